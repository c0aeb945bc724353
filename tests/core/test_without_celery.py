"""Celery is an extra: a shop in inline mode runs without celery, kombu and
django-celery-beat installed (and without django_celery_beat in INSTALLED_APPS).

The subprocess tests run tests/nocelery/run.py, which can make those packages
unimportable; the dev environment has them installed, so this is the only way to see
what a shop without the ``celery`` extra sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tests" / "nocelery" / "run.py"

ENROL_AND_RUN = """
import sys
from django.db import transaction
from postpurchase import signals
from postpurchase.engine import dispatch
from postpurchase.models import Message
from postpurchase.testing.factories import EmailStepFactory, FlowFactory
from tests.core.adapters import FakeOrder

EmailStepFactory(flow=FlowFactory(trigger="order_placed"))
with transaction.atomic():
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))
assert dispatch.background().wait_idle(120), "the wake-up thread never finished"
print("statuses", list(Message.objects.values_list("status", flat=True)))
loaded = {m.partition(".")[0] for m in sys.modules}
print("loaded", sorted(loaded & {"celery", "kombu", "django_celery_beat"}))
"""


def manage(tmp_path, *args, execution="inline", block=True, check=True):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "POSTPURCHASE_"))
    }
    env.update(
        NOCELERY_DB=str(tmp_path / "db.sqlite3"),
        NOCELERY_EXECUTION=execution,
        NOCELERY_BLOCK="1" if block else "0",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_inline_mode_works_without_celery_installed(tmp_path):
    check = manage(tmp_path, "check")
    assert "no issues" in check.stdout, check.stdout + check.stderr
    manage(tmp_path, "migrate", "--verbosity=0")
    run = manage(tmp_path, "shell", "-c", ENROL_AND_RUN)
    assert "statuses ['sent']" in run.stdout, run.stdout + run.stderr
    assert "loaded []" in run.stdout


def test_inline_mode_does_not_import_celery_even_when_installed(tmp_path):
    manage(tmp_path, "migrate", "--verbosity=0", block=False)
    run = manage(tmp_path, "shell", "-c", ENROL_AND_RUN, block=False)
    assert "statuses ['sent']" in run.stdout, run.stdout + run.stderr
    assert "loaded []" in run.stdout, run.stdout


PLACE_AND_EXIT = """
from django.db import transaction
from postpurchase import signals
from postpurchase.testing.factories import EmailStepFactory, FlowFactory
from tests.core.adapters import FakeOrder

EmailStepFactory(flow=FlowFactory(trigger="order_placed"))
with transaction.atomic():
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))
"""

STATUSES = """
from postpurchase.models import Message
print("statuses", list(Message.objects.values_list("status", flat=True)))
"""


def test_inline_mode_sends_what_a_script_placed_before_the_script_exits(tmp_path):
    # A management command or `shell -c` that places an order and ends at once: the
    # exit waits for the wake-up thread, which must still reach the ESP then.
    manage(tmp_path, "migrate", "--verbosity=0")
    placed = manage(tmp_path, "shell", "-c", PLACE_AND_EXIT)
    run = manage(tmp_path, "shell", "-c", STATUSES)
    assert "statuses ['sent']" in run.stdout, placed.stderr + run.stdout + run.stderr


def test_celery_mode_without_celery_names_the_missing_packages(tmp_path):
    proc = manage(tmp_path, "check", execution="celery", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "postpurchase.E011" in output and "celery" in output
    assert "pip install" in output and "django-postpurchase[celery]" in output
    assert "postpurchase.E012" in output and "django-celery-beat" in output


def test_celery_mode_needs_django_celery_beat_in_installed_apps(tmp_path):
    proc = manage(tmp_path, "check", execution="celery", block=False, check=False)
    output = proc.stdout + proc.stderr
    assert "postpurchase.E005" in output and '"django_celery_beat"' in output, output
    assert "postpurchase.E011" not in output and "postpurchase.E012" not in output


def test_celery_mode_warns_when_no_broker_is_configured(tmp_path):
    # This project creates no Celery app and sets no CELERY_BROKER_URL: tasks would
    # go to Celery's default amqp://localhost.
    proc = manage(tmp_path, "check", execution="celery", block=False, check=False)
    output = proc.stdout + proc.stderr
    assert "postpurchase.W004" in output and "CELERY_BROKER_URL" in output, output
