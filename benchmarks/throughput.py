"""Throughput of the whole email pipeline, with two references measured in the same run.

    python benchmarks/throughput.py [--n 20000] [--workers 2] [--db sqlite|postgres|both]
                                    [--batch-size 200]

For each database it creates a fresh database, migrates it, installs the
"post-purchase-series" recipe live and bulk-creates N contacts with N enrollments due
now at the thank-you step, then measures emails per second of:

pipeline     W worker processes each looping ``postpurchase.engine.advance_due()`` until
             nothing is due: claim, Message row, render (Django template -> MJML -> HTML,
             text part), Anymail's test backend, record, then the delay step that follows.
floor        W processes rendering the same email with the same context and sending it
             through the same backend, with no database at all.
post_office  django-post-office queueing the same rendered emails (``mail.send``, W
             processes) and then sending them (``send_queued(processes=W)``).

See benchmarks/README.md for what each figure means and docs/benchmarks.md for results.
The parent process never imports Django: every phase runs in spawned processes, so one
run can use SQLite and PostgreSQL with their own settings.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_DB = "bench_postpurchase"
PG_URL = os.environ.get("BENCH_PG_URL", f"postgres://postgres@127.0.0.1:5432/{PG_DB}")

TARGET_RATE = 2000.0
TARGET_VS_POST_OFFICE = 5.0
TARGET_VS_FLOOR = 0.5

# --- the order every email renders ----------------------------------------------------

RU_FIRST = ["Анна", "Иван", "Мария", "Дмитрий", "Елена", "Сергей", "Ольга", "Алексей"]
RU_LAST = ["Петрова", "Смирнов", "Иванова", "Кузнецов", "Соколова", "Попов", "Лебедева"]
EN_FIRST = ["Anna", "John", "Mary", "David", "Emma", "James", "Olivia", "Michael"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans"]
# sku, (Russian name, English name), (category ru, en), qty, price
ITEMS = [
    ("BP-URB-20", ("Рюкзак городской «Арбат» 20 л", "Arbat city backpack 20 L"),
     ("Рюкзаки", "Backpacks"), 1, "4990.00"),
    ("BP-HIK-45", ("Туристический рюкзак «Эльбрус» 45 л", "Elbrus hiking backpack 45 L"),
     ("Рюкзаки", "Backpacks"), 1, "12490.00"),
    ("AC-BTL-07", ("Термобутылка 0,7 л", "Insulated bottle 0.7 L"),
     ("Аксессуары", "Accessories"), 2, "1590.00"),
    ("AC-RNC-01", ("Дождевой чехол для рюкзака", "Backpack rain cover"),
     ("Аксессуары", "Accessories"), 1, "990.00"),
    ("AC-ORG-03", ("Органайзер для мелочей, набор из 3", "Packing organiser, set of 3"),
     ("Аксессуары", "Accessories"), 1, "1290.00"),
]  # fmt: skip


def customer(i: int) -> dict:
    """The i-th customer: every other one Russian-speaking, the rest English-speaking."""
    ru = i % 2 == 0
    first, last = (RU_FIRST, RU_LAST) if ru else (EN_FIRST, EN_LAST)
    return {
        "email": f"customer{i}@example.com",
        "first_name": first[i % len(first)],
        "last_name": last[i % len(last)],
        "locale": "ru" if ru else "en",
    }


def order_snapshot(i: int, placed_at) -> dict:
    """A five-item RUB order in the schema of postpurchase/adapters.py."""
    who = customer(i)
    lang = 0 if who["locale"] == "ru" else 1
    site = "https://shop.example.com"
    items, subtotal = [], 0
    for sku, names, categories, qty, price in ITEMS:
        total = int(price.split(".")[0]) * qty
        subtotal += total
        url = f"{site}/products/{sku.lower()}/"
        items.append(
            {
                "sku": sku,
                "name": names[lang],
                "category": categories[lang],
                "qty": qty,
                "price": price,
                "total": f"{total}.00",
                "image_url": f"{site}/media/products/{sku.lower()}.jpg",
                "url": url,
                "review_url": url + "#review",
            }
        )
    number = f"{100000 + i}"
    return {
        "ref": f"shop.order:{100000 + i}",
        "number": number,
        "email": who["email"],
        "first_name": who["first_name"],
        "last_name": who["last_name"],
        "locale": who["locale"],
        "timezone": "Europe/Moscow" if lang == 0 else "UTC",
        "placed_at": placed_at.isoformat(),
        "currency": "RUB",
        "items": items,
        "subtotal": f"{subtotal}.00",
        "shipping_cost": "0.00",
        "discount": "0.00",
        "total": f"{subtotal}.00",
        "payment_method": "Банковская карта" if lang == 0 else "Card",
        "shipping_method": "Курьер" if lang == 0 else "Courier",
        "shipping_address": (
            "Москва, ул. Лесная, д. 12, кв. 34" if lang == 0 else "12 Lesnaya St., apt 34, Moscow"
        ),
        "delivery_estimate": (placed_at + timedelta(days=3)).date().isoformat(),
        "tracking_url": "",
        "order_url": f"{site}/orders/{number}/",
    }


# --- runs in child processes ----------------------------------------------------------


def _django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()


def _slice(index: int, workers: int, n: int) -> range:
    per, extra = divmod(n, workers)
    start = index * per + min(index, extra)
    return range(start, start + per + (1 if index < extra else 0))


def setup_database(n: int) -> dict:
    """Migrate, install the recipe live, bulk-create n contacts and enrollments due now."""
    _django()
    from django.core.management import call_command
    from django.db import connection

    from postpurchase.models import Contact, Enrollment
    from postpurchase.recipes import install

    call_command("migrate", verbosity=0)
    flow = install("post-purchase-series", live=True)
    first = flow.steps.order_by("position", "id").non_polymorphic().first()
    from django.utils import timezone

    now = timezone.now()
    chunk = 2000
    for start in range(0, n, chunk):
        idx = range(start, min(n, start + chunk))
        contacts = Contact.objects.bulk_create([Contact(**customer(i)) for i in idx])
        Enrollment.objects.bulk_create(
            [
                Enrollment(
                    flow=flow,
                    contact=contact,
                    dedupe_key=f"order:shop.order:{100000 + i}",
                    order_ref=f"shop.order:{100000 + i}",
                    snapshot=order_snapshot(i, now),
                    step=first,
                    step_entered_at=now,
                    triggered_at=now,
                    due_at=now,
                )
                for i, contact in zip(idx, contacts, strict=True)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"flow": flow.pk, "first_step": first.pk, "enrollments": Enrollment.objects.count()}


def count_results() -> dict:
    _django()
    from django.db.models import Count
    from post_office.models import Email

    from postpurchase.models import Enrollment, Message

    return {
        "messages": dict(Message.objects.values_list("status").annotate(c=Count("pk"))),
        "waiting": Enrollment.objects.filter(step__position=2, status="active").count(),
        "post_office": dict(Email.objects.values_list("status").annotate(c=Count("pk"))),
    }


def _no_db(execute, sql, params, many, context):
    raise AssertionError(f"the floor must not touch the database: {sql}")


class _Renderer:
    """Renders the thank-you email of customer i exactly as delivery.send_step_email
    does (same context builder, same template cache), from objects held in memory."""

    def __init__(self):
        from django.utils import timezone

        from postpurchase.engine.context import Batch
        from postpurchase.models import EmailStep, EmailTemplate, Flow

        flow = Flow.objects.get(slug="post-purchase-series")
        self.template = EmailTemplate.objects.get(slug="thank-you")
        self.step = EmailStep.objects.get(flow=flow, template=self.template)
        self.now = timezone.now()
        self.batch = Batch(now=self.now)
        # The contents a batch would load, pre-fetched once.
        from postpurchase.rendering import contents_of

        contents_of(self.template, self.batch.cache)

    def render(self, i: int):
        import uuid

        from postpurchase.delivery import email_context
        from postpurchase.engine.context import StepContext
        from postpurchase.models import Contact, Enrollment, Message
        from postpurchase.rendering import render_template

        who = customer(i)
        contact = Contact(pk=i + 1, **who)
        enrollment = Enrollment(pk=i + 1, contact=contact, snapshot=order_snapshot(i, self.now))
        message = Message(
            id=uuid.uuid4(),
            enrollment=enrollment,
            step=self.step,
            contact=contact,
            to_email=contact.email,
            category=self.step.category,
        )
        ctx = StepContext(enrollment=enrollment, step=self.step, batch=self.batch)
        rendered = render_template(
            self.template,
            contact.locale or enrollment.snapshot.get("locale"),
            email_context(ctx, message, self.step.category),
            cache=self.batch.cache,
        )
        return message, rendered


def pipeline_worker(index: int, workers: int, n: int, opts: dict) -> Iterator[dict | None]:
    from django.core import mail
    from django.db import connection

    from postpurchase.engine import advance_due, count_due

    connection.ensure_connection()
    mail.outbox = []
    yield  # ready: wait for the start signal
    start = time.monotonic()
    took = batches = 0
    while True:
        done = advance_due()
        # Anymail's test backend keeps every message and looks each one up with
        # outbox.index() (O(n)); a real ESP backend keeps nothing.
        mail.outbox.clear()
        took += done
        batches += 1 if done else 0
        if not done and not count_due():
            break
    yield {"start": start, "end": time.monotonic(), "count": took, "batches": batches}


def floor_worker(index: int, workers: int, n: int, opts: dict) -> Iterator[dict | None]:
    from django.core import mail
    from django.db import connection

    from postpurchase.delivery import build_email

    renderer = _Renderer()
    connection.close()
    mail.outbox = []
    items = _slice(index, workers, n)
    with connection.execute_wrapper(_no_db):
        yield
        start = time.monotonic()
        for i in items:
            message, rendered = renderer.render(i)
            build_email(message, rendered, renderer.step).send()
            if len(mail.outbox) >= 200:
                mail.outbox.clear()
        end = time.monotonic()
    yield {"start": start, "end": end, "count": len(items)}


def post_office_queue_worker(index: int, workers: int, n: int, opts: dict) -> Iterator[dict | None]:
    from email.utils import formataddr

    from django.db import connection
    from post_office import mail as po_mail

    from postpurchase.delivery import from_email

    renderer = _Renderer()
    connection.ensure_connection()
    items = _slice(index, workers, n)
    yield
    start = time.monotonic()
    sender = from_email()
    for i in items:
        message, rendered = renderer.render(i)
        contact = message.contact
        po_mail.send(
            recipients=[formataddr((contact.full_name, contact.email))],
            sender=sender,
            subject=rendered.subject,
            message=rendered.text,
            html_message=rendered.html,
            headers={"Idempotency-Key": str(message.pk)},
            priority="medium",
        )
    yield {"start": start, "end": time.monotonic(), "count": len(items)}


def post_office_send(workers: int) -> dict:
    """Send everything queued with post_office's own multiprocessing sender."""
    _django()
    from django.db import connection
    from post_office.mail import get_queued, send_queued

    connection.ensure_connection()
    start = time.monotonic()
    sent = failed = rounds = 0
    while True:
        # send_queued() forks W children per batch; they close the inherited connection.
        connection.close()
        s, f, _ = send_queued(processes=workers)
        sent, failed, rounds = sent + s, failed + f, rounds + 1
        connection.close()
        if not s and not f and not get_queued().exists():
            break
    return {"seconds": time.monotonic() - start, "sent": sent, "failed": failed, "rounds": rounds}


def floor_breakdown(k: int) -> dict:
    """Where one process spends the floor's time, in ms per email (k emails, untimed
    warm-up first): Django templates, MJML, the text part, AnymailMessage + send."""
    _django()
    from django.core import mail

    from postpurchase import rendering
    from postpurchase.delivery import build_email

    spent = dict.fromkeys(["django_templates", "mjml2html", "html_to_text", "build_send"], 0.0)

    def timed(name, key):
        original = getattr(rendering, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        setattr(rendering, name, wrapper)

    renderer = _Renderer()
    mail.outbox = []
    renderer.render(0)
    timed("mjml2html", "mjml2html")
    timed("html_to_text", "html_to_text")
    render_total = 0.0
    for i in range(k):
        t = time.perf_counter()
        message, rendered = renderer.render(i)
        t2 = time.perf_counter()
        build_email(message, rendered, renderer.step).send()
        spent["build_send"] += time.perf_counter() - t2
        render_total += t2 - t
        mail.outbox.clear()
    spent["django_templates"] = render_total - spent["mjml2html"] - spent["html_to_text"]
    out = {key: value / k * 1000 for key, value in spent.items()}
    out["html_bytes"] = len(rendered.html)
    return out


WORKERS = {
    "pipeline": pipeline_worker,
    "floor": floor_worker,
    "post_office_queue": post_office_queue_worker,
}


def _worker_main(kind, index, workers, n, opts, barrier, results) -> None:
    try:
        _django()
        steps = WORKERS[kind](index, workers, n, opts)
        next(steps)  # set up, untimed
        barrier.wait()
        results.put((index, next(steps)))
    except BaseException:
        barrier.abort()
        results.put((index, {"error": traceback.format_exc()}))


def _call_main(fn_name, args, results) -> None:
    try:
        results.put(globals()[fn_name](*args))
    except BaseException:
        results.put({"error": traceback.format_exc()})


# --- the orchestrator (no Django here) ------------------------------------------------

CTX = mp.get_context("spawn")


def call(fn_name: str, *args):
    results = CTX.Queue()
    proc = CTX.Process(target=_call_main, args=(fn_name, args, results))
    proc.start()
    out = results.get()
    proc.join()
    if isinstance(out, dict) and "error" in out:
        raise RuntimeError(f"{fn_name} failed:\n{out['error']}")
    return out


def run_workers(kind: str, workers: int, n: int, opts: dict | None = None) -> dict:
    """Start W processes, let them set up, start them together; emails/s over all."""
    barrier, results = CTX.Barrier(workers), CTX.Queue()
    procs = [
        CTX.Process(target=_worker_main, args=(kind, i, workers, n, opts or {}, barrier, results))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    outs = dict(results.get() for _ in procs)
    for p in procs:
        p.join()
    errors = [o["error"] for o in outs.values() if "error" in o]
    if errors:
        raise RuntimeError(f"{kind} worker failed:\n" + "\n".join(errors))
    seconds = max(o["end"] for o in outs.values()) - min(o["start"] for o in outs.values())
    count = sum(o["count"] for o in outs.values())
    return {"seconds": seconds, "count": count, "per_worker": outs}


@dataclass
class Figures:
    db: str
    n: int
    workers: int
    pipeline: float = 0.0
    floor: float = 0.0
    post_office: float = 0.0
    detail: dict = field(default_factory=dict)
    breakdown: dict = field(default_factory=dict)


def prepare(db: str, workdir: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{workdir / 'bench_postpurchase.sqlite3'}"
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return PG_URL


def bench(db: str, args, workdir: Path) -> Figures:
    os.environ["BENCH_DATABASE_URL"] = prepare(db, workdir)
    os.environ["BENCH_BATCH_SIZE"] = str(args.batch_size)
    os.environ["BENCH_PO_BATCH_SIZE"] = str(args.po_batch_size)
    os.environ["BENCH_PO_THREADS"] = str(args.po_threads)
    n, w = args.n, args.workers
    fig = Figures(db=db, n=n, workers=w)
    say = print if args.verbose else (lambda *a, **k: None)

    t = time.monotonic()
    info = call("setup_database", n)
    say(f"[{db}] setup: {info} in {time.monotonic() - t:.1f}s", flush=True)

    pipe = run_workers("pipeline", w, n)
    counts = call("count_results")
    sent = counts["messages"].get("sent", 0)
    if sent != n or counts["waiting"] != n:
        raise RuntimeError(f"[{db}] expected {n} sent and waiting at the delay, got {counts}")
    fig.pipeline = sent / pipe["seconds"]
    batches = sum(o["batches"] for o in pipe["per_worker"].values())
    say(f"[{db}] pipeline: {sent} sent in {pipe['seconds']:.2f}s, {batches} batches", flush=True)

    floor = run_workers("floor", w, n)
    fig.floor = floor["count"] / floor["seconds"]
    say(f"[{db}] floor: {floor['count']} in {floor['seconds']:.2f}s", flush=True)

    queue = run_workers("post_office_queue", w, n)
    send = call("post_office_send", w)
    po = call("count_results")["post_office"]  # {status: count}; post_office's sent is 0
    if send["sent"] != n or po.get(0) != n:
        raise RuntimeError(f"[{db}] post_office sent {send['sent']} of {n}: {po}")
    po_seconds = queue["seconds"] + send["seconds"]
    fig.post_office = n / po_seconds
    say(
        f"[{db}] post_office: queued in {queue['seconds']:.2f}s, sent in "
        f"{send['seconds']:.2f}s ({send['rounds']} send_queued calls)",
        flush=True,
    )
    fig.breakdown = call("floor_breakdown", min(n, 500))
    fig.detail = {
        "pipeline_s": pipe["seconds"],
        "floor_s": floor["seconds"],
        "po_queue_s": queue["seconds"],
        "po_send_s": send["seconds"],
    }
    return fig


def report(figs: list[Figures]) -> None:
    def ok(flag: bool) -> str:
        return "yes" if flag else "NO"

    f0 = figs[0]
    print(f"\nN={f0.n} emails, {f0.workers} worker processes, {os.cpu_count()} CPUs\n")
    head = (
        f"{'database':<10} {'pipeline/s':>10} {'floor/s':>9} {'post_office/s':>13} "
        f"{'pipe/floor':>10} {'pipe/p_o':>8}  {'>=2000/s':>8} {'>=5x p_o':>8} {'>=50% floor':>11}"
    )
    print(head)
    print("-" * len(head))
    for f in figs:
        r_floor = f.pipeline / f.floor
        r_po = f.pipeline / f.post_office
        print(
            f"{f.db:<10} {f.pipeline:>10.0f} {f.floor:>9.0f} {f.post_office:>13.0f} "
            f"{r_floor:>9.0%} {r_po:>7.1f}x  {ok(f.pipeline >= TARGET_RATE):>8} "
            f"{ok(r_po >= TARGET_VS_POST_OFFICE):>8} {ok(r_floor >= TARGET_VS_FLOOR):>11}"
        )
    print()
    for f in figs:
        d = f.detail
        print(
            f"{f.db}: pipeline {d['pipeline_s']:.2f}s, floor {d['floor_s']:.2f}s, "
            f"post_office queue {d['po_queue_s']:.2f}s + send {d['po_send_s']:.2f}s"
        )
        b = f.breakdown
        print(
            f"  floor, one process, ms per email: Django templates {b['django_templates']:.2f}, "
            f"mjml2html {b['mjml2html']:.2f}, html_to_text {b['html_to_text']:.2f}, "
            f"AnymailMessage + send {b['build_send']:.2f} ({b['html_bytes']} bytes of HTML)"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="emails (enrollments) per run")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per phase")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=200, help='POSTPURCHASE["BATCH_SIZE"]')
    parser.add_argument("--po-batch-size", type=int, default=1000, help='POST_OFFICE["BATCH_SIZE"]')
    parser.add_argument(
        "--po-threads", type=int, default=1, help='POST_OFFICE["THREADS_PER_PROCESS"]'
    )
    parser.add_argument("-q", "--quiet", dest="verbose", action="store_false")
    args = parser.parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    workdir = Path(tempfile.mkdtemp(prefix="bench_postpurchase_"))
    try:
        figs = [bench(db, args, workdir) for db in dbs]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
