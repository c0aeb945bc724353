#!/usr/bin/env python3
"""The package is what gets tested: build it, check what it carries, install it the way
a shop does and follow docs/quickstart.md in a project of its own.

    python .ci/wheel_smoke.py            # needs `build` (the dev extra has it)
    KEEP=1 python .ci/wheel_smoke.py     # keep the temporary folder to look around

1. ``python -m build``: the sdist, then the wheel built from that sdist.
2. Both carry every file git tracks under postpurchase/ (code, migrations, templates,
   recipe emails, locale .mo, static, ...; the list comes from git, so a new template
   folder is covered without touching this script), minus .po sources and dotfiles; every
   tracked .po has its compiled .mo; the wheel carries nothing else.
3. A fresh virtualenv outside the source tree gets the wheel without extras (so Celery
   stays optional); ``postpurchase`` must import from its site-packages.
4. ``django-admin startproject``; the app added as the quickstart says (its settings,
   URL and adapter snippets are read from docs/quickstart.md); ``check``, ``migrate``,
   every recipe installed, ``order_placed`` sent from ``manage.py shell``, and the
   thank-you found in MAIL_DIR and in the admin; the admin and unsubscribe pages render.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"
ORDER_NUMBER = "SMOKE-1"
CUSTOMER = "anna@example.com"

# Tracked files the app does not read at run time: translation sources (Django reads
# the compiled .mo next to them) and placeholders such as .keep.
NOT_NEEDED = (re.compile(r"\.po$"), re.compile(r"(^|/)\.[^/]+$"))

# A model for the quickstart's adapter to read (the docs leave the shop's models to it).
SHOP_MODELS = """
from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    email = models.EmailField()
    first_name = models.CharField(max_length=100)
    language = models.CharField(max_length=8, default="en")
    currency = models.CharField(max_length=3, default="EUR")
    total = models.DecimalField(max_digits=10, decimal_places=2)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, related_name="items", on_delete=models.CASCADE)
    sku = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    line_total = models.DecimalField(max_digits=10, decimal_places=2)
"""

# The quickstart's step 6, as a shop's checkout does it.
PLACE_ORDER = f"""
from decimal import Decimal
from django.db import transaction
from postpurchase import signals
from shop.models import Order, OrderItem

with transaction.atomic():
    order = Order.objects.create(
        number={ORDER_NUMBER!r}, email={CUSTOMER!r}, first_name="Anna", total=Decimal("49.90")
    )
    OrderItem.objects.create(
        order=order, sku="BP-1", name="Backpack", quantity=1,
        unit_price=Decimal("49.90"), line_total=Decimal("49.90"),
    )
    signals.order_placed.send(sender=Order, order=order)
"""

# Runs in the installed project: where the app comes from, what it sent, the admin.
INSPECT = """
import sysconfig
from pathlib import Path
from urllib.parse import urlsplit
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
import postpurchase
from postpurchase.models import Flow, Message
from postpurchase.public.tokens import unsubscribe_url

site = Path(sysconfig.get_paths()["purelib"]).resolve()
origin = Path(postpurchase.__file__).resolve()
assert origin.is_relative_to(site), f"postpurchase imported from {origin}, not {site}"
print("postpurchase from", origin)
for name in ("celery", "django_celery_beat"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise AssertionError(f"{name} is installed although no extra was asked for")

assert Flow.objects.count() == RECIPES, (Flow.objects.count(), RECIPES)
messages = list(Message.objects.values_list("to_email", "subject", "status"))
print("messages", messages)
assert len(messages) == 1, messages
to_email, subject, status = messages[0]
assert (to_email, status) == (EMAIL, "sent"), messages[0]
assert "thank you for your order" in subject.lower() and NUMBER in subject, subject

staff = get_user_model().objects.create_superuser("smoke", "smoke@example.com", "smoke")
client = Client(HTTP_HOST="localhost")
client.force_login(staff)
flow = Flow.objects.get(slug="post-purchase-series")
message = Message.objects.get()
unsubscribe = urlsplit(unsubscribe_url(message.contact_id, str(message.pk))).path
for url in (
    reverse("admin:postpurchase_flow_changelist"),
    reverse("admin:postpurchase_flow_recipes"),
    reverse("admin:postpurchase_flow_change", args=[flow.pk]),
    reverse("admin:postpurchase_message_changelist"),
    unsubscribe,
):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    print("200", url)
"""


class Failed(Exception):
    pass


_last_step: list[float] = []


def step(title: str) -> None:
    """Start a step, after printing how long the one before took."""
    now = time.monotonic()
    if _last_step:
        print(f"({now - _last_step.pop():.0f} s)")
    _last_step.append(now)
    print(f"--- wheel smoke: {title}", flush=True)


def run(*args, cwd: Path, env: dict | None = None, capture: bool = False) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, text=True, capture_output=capture
    )
    if proc.returncode != 0:
        output = (proc.stdout or "") + (proc.stderr or "") if capture else ""
        raise Failed(f"{' '.join(map(str, args))} exited with {proc.returncode}\n{output}")
    return proc.stdout if capture else ""


def expected_files() -> list[str]:
    tracked = run("git", "ls-files", "-z", "postpurchase", cwd=ROOT, capture=True)
    files = sorted(filter(None, tracked.split("\0")))
    if not files:
        raise Failed("git lists no files under postpurchase/ (not a git checkout?)")
    needed = [f for f in files if not any(p.search(f) for p in NOT_NEEDED)]
    for po in (f for f in files if f.endswith(".po")):
        needed.append(po[: -len(".po")] + ".mo")  # a .po without its .mo is not translated
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    if "Typing :: Typed" in pyproject["project"].get("classifiers", []):
        needed.append("postpurchase/py.typed")
    return sorted(set(needed))


def check_contents(wheel: Path, sdist: Path) -> None:
    needed = expected_files()
    tracked = set(run("git", "ls-files", "postpurchase", cwd=ROOT, capture=True).split())
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = {n for n in zf.namelist() if not n.endswith("/")}
    with tarfile.open(sdist) as tf:
        in_sdist = {m.name.partition("/")[2] for m in tf.getmembers() if m.isfile()}
    problems = []
    for label, names in (("wheel", in_wheel), ("sdist", in_sdist)):
        missing = [f for f in needed if f not in names]
        if missing:
            problems.append(f"the {label} lacks {len(missing)} file(s):")
            problems += [f"    {f}" for f in missing]
    package = {n for n in in_wheel if ".dist-info/" not in n}
    strays = sorted(n for n in package if not n.startswith("postpurchase/") or n not in tracked)
    strays = [n for n in strays if n not in needed]
    if strays:
        problems.append("the wheel carries files git does not track under postpurchase/:")
        problems += [f"    {f}" for f in strays]
    if problems:
        raise Failed("\n".join(problems))
    print(f"the sdist and the wheel carry all {len(needed)} files the app needs")


def quickstart_block(first_line: str) -> str:
    """The fenced code block of docs/quickstart.md whose first line is ``first_line``."""
    blocks = re.findall(r"```python\n(.*?)```", QUICKSTART.read_text(), flags=re.S)
    for block in blocks:
        if block.startswith(first_line + "\n"):
            return block
    raise Failed(f"docs/quickstart.md has no python block starting with {first_line!r}")


def make_project(venv_bin: Path, project: Path, env: dict) -> None:
    run(venv_bin / "django-admin", "startproject", "smoke", ".", cwd=project, env=env)
    run(venv_bin / "python", "manage.py", "startapp", "shop", cwd=project, env=env)
    (project / "shop" / "models.py").write_text(SHOP_MODELS.lstrip())

    # Step 2: the documented settings, with the development email backend and MAIL_DIR
    # the quickstart recommends while you develop.
    documented: dict = {}
    exec(quickstart_block("# settings.py"), documented)  # our own docs' snippet: plain assignments
    conf = documented["POSTPURCHASE"]
    adapter_module, _, _ = conf["ADAPTER"].rpartition(".")
    settings = project / "smoke" / "settings.py"
    settings.write_text(
        settings.read_text()
        + "\n# docs/quickstart.md, step 2\n"
        + f"INSTALLED_APPS += ['shop', *{documented['INSTALLED_APPS']!r}]\n"
        + "EMAIL_BACKEND = 'anymail.backends.test.EmailBackend'\n"
        + f"DEFAULT_FROM_EMAIL = {documented['DEFAULT_FROM_EMAIL']!r}\n"
        + f"POSTPURCHASE = {{**{conf!r}, 'MAIL_DIR': BASE_DIR / 'var' / 'mail'}}\n"
    )

    # Step 3: the documented URL pattern, next to the admin's.
    url_lines = [
        line.strip()
        for line in quickstart_block("# urls.py").splitlines()
        if line.strip().startswith("path(")
    ]
    urls = project / "smoke" / "urls.py"
    text = urls.read_text().replace(
        "from django.urls import path", "from django.urls import include, path"
    )
    patterns = "".join(f"    {line}\n" for line in url_lines)
    text, found = re.subn(r"(urlpatterns = \[\n)", lambda m: m.group(1) + patterns, text)
    if not found or not url_lines:
        raise Failed("cannot add the quickstart's URL pattern to the startproject urls.py")
    urls.write_text(text)

    # Step 4: the documented adapter, at the path POSTPURCHASE["ADAPTER"] names.
    adapter = quickstart_block("# shop/postpurchase_adapter.py")
    path = project / (adapter_module.replace(".", "/") + ".py")
    if path != project / "shop" / "postpurchase_adapter.py":
        raise Failed(f"the quickstart's ADAPTER {conf['ADAPTER']!r} is not its adapter file")
    path.write_text(adapter)


def smoke(work: Path) -> None:
    dist = work / "dist"
    step("build the sdist and the wheel (python -m build)")
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=ROOT, capture=True)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    print(wheel.name, sdist.name)

    step("contents")
    check_contents(wheel, sdist)

    step("install the wheel, without extras, into a fresh virtualenv")
    venv = work / "venv"
    project = work / "project"
    project.mkdir()
    run(sys.executable, "-m", "venv", venv, cwd=work)
    venv_bin = venv / "bin"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("DJANGO_")
    }
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    run(venv_bin / "python", "-m", "pip", "install", "-q", wheel, cwd=work, env=env)

    step("a new project, set up as docs/quickstart.md says")
    make_project(venv_bin, project, env)

    def manage(*args, capture: bool = False) -> str:
        return run(venv_bin / "python", "manage.py", *args, cwd=project, env=env, capture=capture)

    manage("makemigrations", "shop", "--verbosity=0")
    manage("check", "--fail-level", "WARNING")
    manage("makemigrations", "--check", "--dry-run", "postpurchase")
    manage("migrate", "--verbosity=0")

    step("every recipe (postpurchase_recipes install)")
    listing = manage("postpurchase_recipes", "list", capture=True)
    names = [line.partition(":")[0] for line in listing.splitlines() if ":" in line]
    if "post-purchase-series" not in names:
        raise Failed(f"postpurchase_recipes list does not list post-purchase-series:\n{listing}")
    print(f"{len(names)} recipes")
    manage("postpurchase_recipes", "install", "post-purchase-series", "--live")
    # The others through the same command in one process (a process each costs ~1 s).
    others = [name for name in names if name != "post-purchase-series"]
    install = (
        "from django.core.management import call_command\n"
        f"for name in {others!r}:\n"
        "    call_command('postpurchase_recipes', 'install', name)\n"
    )
    manage("shell", "--no-imports", "-c", install)

    step("order_placed from manage.py shell, then the scheduler")
    manage("shell", "--no-imports", "-c", PLACE_ORDER)
    manage("postpurchase_scheduler", "--once")

    step("the thank-you, in MAIL_DIR and in the admin")
    mails = sorted((project / "var" / "mail").glob("*.txt"))
    if len(mails) != 1:
        raise Failed(f"expected one email in MAIL_DIR, found {[m.name for m in mails]}")
    text = mails[0].read_text()
    print("\n".join(text.splitlines()[:2]))
    if not text.startswith(f"To: {CUSTOMER}\nSubject: ") or ORDER_NUMBER not in text:
        raise Failed(f"the thank-you in MAIL_DIR is not Anna's:\n{text[:500]}")
    if not mails[0].with_suffix(".html").read_text().lstrip().lower().startswith("<!doctype"):
        raise Failed("the thank-you's HTML copy is not an HTML document")
    inspect = f"EMAIL, NUMBER, RECIPES = {CUSTOMER!r}, {ORDER_NUMBER!r}, {len(names)}\n"
    print(manage("shell", "--no-imports", "-c", inspect + INSPECT, capture=True).strip())


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="postpurchase-wheel-"))
    try:
        smoke(work)
    except Failed as exc:
        print(f"\nWHEEL SMOKE FAILED: {exc}\n(files kept in {work})", file=sys.stderr)
        return 1
    step("done")
    print(f"wheel smoke passed in {time.monotonic() - started:.0f} s")
    if os.environ.get("KEEP"):
        print(f"files kept in {work}")
    else:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
