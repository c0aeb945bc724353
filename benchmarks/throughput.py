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

With ``--esp postmark`` it measures instead, for each ESP latency of ``--latencies``
(default 0,20,100 ms), sending through Anymail's real Postmark backend to
benchmarks/esp_server.py on 127.0.0.1 (in this process, in a thread):

    python benchmarks/throughput.py --esp postmark --latencies 0,20,100 --db postgres \
                                    --workers 2 --n 5000 [--concurrency 16]

pipeline     as above, at that latency (``--concurrency``: POSTPURCHASE["SEND_CONCURRENCY"])
floor        as above, at 0 ms, one kept-alive connection per process; measured once
post_office  render + queue (measured once) + ``send_queued`` at that latency, at its
             default THREADS_PER_PROCESS (5) and at each of ``--po-thread-sweep``
plus the loopback ESP's counters: new TCP connections, distinct messages, duplicates.

See benchmarks/README.md for what each figure means and docs/benchmarks.md for results.
The parent process never imports Django: every phase runs in spawned processes, so one
run can use SQLite and PostgreSQL with their own settings.
"""

from __future__ import annotations

import argparse
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

import spawn  # noqa: E402  (benchmarks/, on the path from here on)

PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_DB = os.environ.get("BENCH_PG_DB", "bench_postpurchase")
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

    from postpurchase.models import Enrollment
    from postpurchase.recipes import install

    call_command("migrate", verbosity=0)
    flow = install("post-purchase-series", live=True)
    first = flow.steps.order_by("position", "id").non_polymorphic().first()
    _add_enrollments(flow, first, n, 0)
    return {"flow": flow.pk, "first_step": first.pk, "enrollments": Enrollment.objects.count()}


def more_enrollments(n: int, offset: int) -> dict:
    """n more contacts and enrollments due now, for customers offset .. offset + n - 1
    (the ESP-latency runs give each latency fresh ones)."""
    _django()
    from postpurchase.models import Enrollment, Flow

    flow = Flow.objects.get(slug="post-purchase-series")
    first = flow.steps.order_by("position", "id").non_polymorphic().first()
    _add_enrollments(flow, first, n, offset)
    return {"enrollments": Enrollment.objects.count()}


def _add_enrollments(flow, first, n: int, offset: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from postpurchase.models import Contact, Enrollment

    now = timezone.now()
    chunk = 2000
    for start in range(offset, offset + n, chunk):
        idx = range(start, min(offset + n, start + chunk))
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
        # Earlier runs in the same database left dead rows behind on PostgreSQL.
        cursor.execute(
            "VACUUM ANALYZE" if offset and connection.vendor == "postgresql" else "ANALYZE"
        )


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
        self.step.template = self.template  # held, as a batch holds it (no query per email)
        self.now = timezone.now()
        self.batch = Batch(now=self.now)
        # The contents a batch would load, pre-fetched once.
        from postpurchase.email.rendering import contents_of

        contents_of(self.template, self.batch.cache)

    def render(self, i: int):
        import uuid

        from postpurchase.delivery import email_context
        from postpurchase.email.rendering import render_template
        from postpurchase.engine.context import StepContext
        from postpurchase.models import Contact, Enrollment, Message

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
    # With a real ESP backend: one backend (one requests.Session, one kept-alive
    # connection) for the whole run, as a sender that reuses its connection would.
    backend = mail.get_connection() if opts.get("reuse_connection") else None
    if backend is not None:
        backend.open()
    with connection.execute_wrapper(_no_db):
        yield
        start = time.monotonic()
        for i in items:
            message, rendered = renderer.render(i)
            email = build_email(message, rendered, renderer.step)
            if backend is None:
                email.send()
            elif backend.send_messages([email]) != 1:
                raise AssertionError(f"the floor failed to send email {i}")
            if len(mail.outbox) >= 200:
                mail.outbox.clear()
        end = time.monotonic()
    if backend is not None:
        backend.close()
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

    from postpurchase.delivery import build_email
    from postpurchase.email import rendering

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


def send_settings() -> dict:
    """How this postpurchase version takes POSTPURCHASE["SEND_CONCURRENCY"] (known, its
    value, the errors its system check or validation report about it) and what it finds
    wrong with the email backend for its emails."""
    _django()
    from postpurchase import conf
    from postpurchase.checks import check_settings

    errors = [e.msg for e in check_settings() if "SEND_CONCURRENCY" in e.msg]
    known = "SEND_CONCURRENCY" in conf.DEFAULTS
    value = None
    if known:
        try:
            value = conf.get_setting("SEND_CONCURRENCY")
        except Exception as exc:  # PostpurchaseConfigurationError
            errors.append(f"{type(exc).__name__}: {exc}")
    try:
        from postpurchase.delivery import backend_problems
    except ImportError:  # older versions: a send raises instead
        problems = []
    else:
        problems = backend_problems()
    return {"known": known, "value": value, "errors": errors, "backend_problems": problems}


def clear_post_office() -> int:
    """Delete every post_office Email and Log (the next round queues them again)."""
    _django()
    from post_office.models import Email, Log

    Log.objects.all().delete()
    return Email.objects.all().delete()[0]


def requeue_post_office() -> int:
    """Put every post_office Email back in the queue and drop its Log rows, so the next
    send_queued() run (another THREADS_PER_PROCESS) sends the same emails again."""
    _django()
    from django.db import connection
    from post_office.models import STATUS, Email, Log

    Log.objects.all().delete()
    count = Email.objects.update(status=STATUS.queued, number_of_retries=None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {Email._meta.db_table}, {Log._meta.db_table}")
        else:
            cursor.execute("ANALYZE")
    return count


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


# --- the orchestrator (no Django here) ------------------------------------------------

CTX = spawn.CTX


def call(fn_name: str, *args):
    """``fn_name(*args)`` of this script in a fresh process (benchmarks/spawn.py)."""
    return spawn.call(__name__, fn_name, *args)


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


# --- ESP-latency runs: Anymail's Postmark backend against esp_server.py ------------------

ESP_TARGET_LATENCY = 100.0
ESP_TARGET_VS_FLOOR = 0.8
ESP_TARGET_VS_POST_OFFICE = 1.2
PO_DEFAULT_THREADS = 5  # post_office's own THREADS_PER_PROCESS default


@dataclass
class EspRun:
    """One latency: the pipeline and post_office's thread sweep."""

    latency: float
    pipeline: float = 0.0
    pipeline_s: float = 0.0
    batches: int = 0
    limit: int = 0  # connections allowed: one per sending thread per batch
    server: dict = field(default_factory=dict)  # esp_server counters of the pipeline run
    post_office: dict = field(default_factory=dict)  # threads -> figures

    def po_best(self) -> tuple[int, dict]:
        return max(self.post_office.items(), key=lambda kv: kv[1]["rate"])


@dataclass
class EspFigures:
    db: str
    n: int
    workers: int
    threads_per_process: int = 1  # the pipeline's sending threads per worker process
    concurrency_note: str = ""
    floor: float = 0.0
    floor_s: float = 0.0
    floor_server: dict = field(default_factory=dict)
    po_queue_s: float = 0.0
    runs: list[EspRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    round: int = 1

    def latencies(self) -> list[float]:
        return [r.latency for r in self.runs]


def _loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n!!! {message}\n{bar}\n", flush=True)


def _check_received(fig: EspFigures, what: str, stats: dict, n: int) -> None:
    """The loopback ESP must have accepted each of the n emails exactly once."""
    distinct, dup = stats["distinct_messages"], stats["duplicated_messages"]
    if distinct != n or dup or stats["messages_received"] != n:
        problem = (
            f"[{fig.db}] {what}: the ESP received {distinct} distinct messages of {n} "
            f"({stats['messages_received']} receipts, {dup} messages more than once; "
            f"HTTP statuses {stats['by_status']})"
        )
        fig.problems.append(problem)
        _loud("MISMATCH " + problem)


def esp_bench(db: str, args, workdir: Path, server) -> list[EspFigures]:
    os.environ["BENCH_DATABASE_URL"] = prepare(db, workdir)
    os.environ["BENCH_BATCH_SIZE"] = str(args.batch_size)
    os.environ["BENCH_PO_BATCH_SIZE"] = str(args.po_batch_size)
    os.environ["BENCH_ESP_URL"] = server.url
    if args.concurrency is not None:
        os.environ["BENCH_SEND_CONCURRENCY"] = str(args.concurrency)
    n, w = args.n, args.workers
    fig = EspFigures(db=db, n=n, workers=w)
    say = print if args.verbose else (lambda *a, **k: None)

    t = time.monotonic()
    call("setup_database", 0)
    say(f"[{db}] migrated, recipe installed in {time.monotonic() - t:.1f}s", flush=True)

    sending = call("send_settings")
    if sending["backend_problems"]:
        _loud(
            "the email backend cannot send this app's emails:\n!!! "
            + "\n!!! ".join(sending["backend_problems"])
        )
        raise SystemExit(f"[{db}] the Postmark backend refuses the app's emails (see above)")
    if sending["errors"]:
        given = f"={args.concurrency} (--concurrency)" if args.concurrency is not None else ""
        _loud(
            f'POSTPURCHASE["SEND_CONCURRENCY"]{given} is rejected by this postpurchase:\n!!! '
            + "\n!!! ".join(sending["errors"])
        )
    if sending["known"]:
        if sending["value"] is None:
            raise SystemExit(f"[{db}] cannot run the pipeline with these settings (see above)")
        fig.threads_per_process = sending["value"]
        source = "--concurrency" if args.concurrency is not None else "the app's default"
        fig.concurrency_note = f"SEND_CONCURRENCY {sending['value']} ({source})"
    else:
        fig.concurrency_note = (
            "SEND_CONCURRENCY unknown to this postpurchase"
            + (" (--concurrency ignored)" if args.concurrency is not None else "")
            + ": one sending thread per process"
        )
    say(f"[{db}] {fig.concurrency_note}", flush=True)

    figs = []
    for index in range(args.rounds):
        if index:
            call("clear_post_office")
            fig = EspFigures(
                db=db,
                n=n,
                workers=w,
                threads_per_process=fig.threads_per_process,
                concurrency_note=fig.concurrency_note,
            )
        fig.round = index + 1
        figs.append(esp_round(fig, args, server, offset=index * len(args.latencies) * n))
    return figs


def esp_round(fig: EspFigures, args, server, offset: int) -> EspFigures:
    """One round: the floor, post_office's render + queue, then per latency the
    pipeline on fresh enrollments and post_office's sends."""
    db, n, w = fig.db, fig.n, fig.workers
    say = print if args.verbose else (lambda *a, **k: None)
    if args.rounds > 1:
        say(f"[{db}] round {fig.round} of {args.rounds}", flush=True)
    server.configure(latency_ms=0, connect_delay_ms=args.connect_delay_ms)
    server.reset()
    floor = run_workers("floor", w, n, {"reuse_connection": True})
    fig.floor_server = server.stats()
    fig.floor, fig.floor_s = floor["count"] / floor["seconds"], floor["seconds"]
    _check_received(fig, "floor", fig.floor_server, n)
    say(
        f"[{db}] floor at 0 ms: {floor['count']} in {floor['seconds']:.2f}s, "
        f"{fig.floor_server['connections']} connections",
        flush=True,
    )

    queue = run_workers("post_office_queue", w, n)
    fig.po_queue_s = queue["seconds"]
    say(f"[{db}] post_office: rendered and queued {n} in {queue['seconds']:.2f}s", flush=True)

    po_rounds = -(-n // args.po_batch_size)  # send_queued() calls that find mail
    for k, latency in enumerate(args.latencies):
        run = EspRun(latency=latency)
        fig.runs.append(run)
        call("more_enrollments", n, offset + k * n)
        server.configure(latency_ms=latency)
        before = call("count_results")
        server.reset()
        pipe = run_workers("pipeline", w, n)
        run.server = server.stats()
        after = call("count_results")
        sent = after["messages"].get("sent", 0) - before["messages"].get("sent", 0)
        waiting = after["waiting"] - before["waiting"]
        if sent != n or waiting != n:
            raise RuntimeError(
                f"[{db}] {latency:g} ms: expected {n} more sent and waiting at the delay, "
                f"got {sent} and {waiting}: {after}"
            )
        run.pipeline, run.pipeline_s = sent / pipe["seconds"], pipe["seconds"]
        run.batches = sum(o["batches"] for o in pipe["per_worker"].values())
        run.limit = run.batches * fig.threads_per_process
        _check_received(fig, f"pipeline at {latency:g} ms", run.server, n)
        say(
            f"[{db}] {latency:g} ms pipeline: {sent} sent in {pipe['seconds']:.2f}s, "
            f"{run.batches} batches, {run.server['connections']} connections, "
            f"peak {run.server['in_flight_max']} in flight",
            flush=True,
        )
        for threads in args.po_thread_sweep:
            os.environ["BENCH_PO_THREADS"] = str(threads)
            call("requeue_post_office")
            server.reset()
            send = call("post_office_send", w)
            stats = server.stats()
            po = call("count_results")["post_office"]  # {status: count}; sent is 0
            if send["sent"] != n or po.get(0) != n:
                raise RuntimeError(
                    f"[{db}] {latency:g} ms post_office with {threads} threads sent "
                    f"{send['sent']} of {n} ({send['failed']} failed): {po}"
                )
            _check_received(fig, f"post_office at {latency:g} ms, {threads} threads", stats, n)
            run.post_office[threads] = {
                "rate": n / (fig.po_queue_s + send["seconds"]),
                "send_rate": n / send["seconds"],
                "send_s": send["seconds"],
                "connections": stats["connections"],
                "limit": po_rounds * w * threads,
                "in_flight_max": stats["in_flight_max"],
            }
            say(
                f"[{db}] {latency:g} ms post_office, {threads} threads/process: sent in "
                f"{send['seconds']:.2f}s ({n / send['seconds']:.0f}/s sending only), "
                f"{stats['connections']} connections, peak {stats['in_flight_max']} in flight",
                flush=True,
            )
    return fig


def esp_report(figs: list[EspFigures]) -> None:
    def ok(flag: bool) -> str:
        return "yes" if flag else "NO"

    for f in figs:
        print(
            f"\n[{f.db}] round {f.round}: N={f.n} emails per run, {f.workers} worker processes, "
            f"{os.cpu_count()} CPUs; Anymail's Postmark backend to esp_server.py on 127.0.0.1"
        )
        print(
            f"pipeline: {f.concurrency_note}. floor: measured once at 0 ms, one kept-alive "
            f"connection per process ({f.floor_s:.2f}s). post_office: N / (render + queue "
            f"{f.po_queue_s:.2f}s, measured once + send_queued at that latency)\n"
        )
        head = (
            f"{'latency':>7} {'pipeline/s':>10} {'floor/s':>8} {'p_o default/s':>13} "
            f"{'p_o best/s (threads)':>20} {'pipe/floor':>10} {'pipe/best p_o':>13} "
            f"{'connections (limit)':>21}"
        )
        print(head)
        print("-" * len(head))
        for r in f.runs:
            best_t, best = r.po_best()
            default = r.post_office.get(PO_DEFAULT_THREADS, {}).get("rate", float("nan"))
            conns = r.server["connections"]
            print(
                f"{r.latency:>5g}ms {r.pipeline:>10.0f} {f.floor:>8.0f} {default:>13.0f} "
                f"{best['rate']:>12.0f} ({best_t:>3}) {r.pipeline / f.floor:>10.0%} "
                f"{r.pipeline / best['rate']:>12.2f}x "
                f"{f'{conns} ({r.limit})':>17} {ok(conns <= r.limit):>3}"
            )
        print()
        for r in f.runs:
            sweep = ", ".join(
                f"{t}: {p['rate']:.0f}/s ({p['send_rate']:.0f}/s sending, "
                f"{p['connections']}/{p['limit']} conns, peak {p['in_flight_max']})"
                for t, p in r.post_office.items()
            )
            print(
                f"{r.latency:g} ms: pipeline {r.pipeline_s:.2f}s, {r.batches} batches, "
                f"peak {r.server['in_flight_max']} ESP calls in flight, ESP server CPU "
                f"{r.server['cpu_seconds']:.1f}s; post_office by threads per process: {sweep}"
            )
        at = [r for r in f.runs if r.latency == ESP_TARGET_LATENCY] or f.runs[-1:]
        for r in at:
            best_t, best = r.po_best()
            vs_floor, vs_po = r.pipeline / f.floor, r.pipeline / best["rate"]
            print(
                f"\ntargets at {r.latency:g} ms: pipeline >= {ESP_TARGET_VS_FLOOR:.0%} of the "
                f"floor: {ok(vs_floor >= ESP_TARGET_VS_FLOOR)} ({vs_floor:.0%}); pipeline >= "
                f"{ESP_TARGET_VS_POST_OFFICE}x best post_office: "
                f"{ok(vs_po >= ESP_TARGET_VS_POST_OFFICE)} ({vs_po:.2f}x, {best_t} threads)"
            )
        over = [f"{r.latency:g} ms" for r in f.runs if r.server["connections"] > r.limit]
        print(
            "connections at most one per sending thread per batch: "
            + ("yes" if not over else "NO at " + ", ".join(over))
        )
        for problem in f.problems:
            print(f"!!! {problem}")


def esp_summary(figs: list[EspFigures]) -> None:
    """Medians and spread (min-max) over the rounds of each database, per latency."""
    from statistics import median

    def spread(values: list[float], fmt: str) -> str:
        return (
            f"{format(median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"
        )

    for db in dict.fromkeys(f.db for f in figs):
        rounds = [f for f in figs if f.db == db]
        print(f"\n[{db}] over {len(rounds)} rounds: median (min-max)")
        head = (
            f"{'latency':>7} {'pipeline/s':>16} {'floor/s':>16} {'best p_o/s':>16} "
            f"{'pipe/floor':>16} {'pipe/best p_o':>20}"
        )
        print(head)
        print("-" * len(head))
        for k, latency in enumerate(rounds[0].latencies()):
            runs = [(f, f.runs[k]) for f in rounds]
            pipe = [r.pipeline for _, r in runs]
            floor = [f.floor for f, _ in runs]
            best = [r.po_best()[1]["rate"] for _, r in runs]
            vs_floor = [r.pipeline / f.floor for f, r in runs]
            vs_po = [r.pipeline / r.po_best()[1]["rate"] for _, r in runs]
            print(
                f"{latency:>5g}ms {spread(pipe, '.0f'):>16} {spread(floor, '.0f'):>16} "
                f"{spread(best, '.0f'):>16} {spread(vs_floor, '.0%'):>16} "
                f"{spread(vs_po, '.2f'):>20}"
            )
        at = [k for k, lat in enumerate(rounds[0].latencies()) if lat == ESP_TARGET_LATENCY]
        for k in at:
            vs_floor = median(f.runs[k].pipeline / f.floor for f in rounds)
            vs_po = median(f.runs[k].pipeline / f.runs[k].po_best()[1]["rate"] for f in rounds)
            print(
                f"targets at {ESP_TARGET_LATENCY:g} ms, medians: >= {ESP_TARGET_VS_FLOOR:.0%} "
                f"of the floor: {'yes' if vs_floor >= ESP_TARGET_VS_FLOOR else 'NO'} "
                f"({vs_floor:.0%}); >= {ESP_TARGET_VS_POST_OFFICE}x best post_office: "
                f"{'yes' if vs_po >= ESP_TARGET_VS_POST_OFFICE else 'NO'} ({vs_po:.2f}x)"
            )


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def esp_main(args, dbs: list[str]) -> int:
    from esp_server import start_server

    for name in ("NO_PROXY", "no_proxy"):  # requests (Anymail) must not proxy 127.0.0.1
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1"]))
    if PO_DEFAULT_THREADS not in args.po_thread_sweep and not args.no_po_default:
        args.po_thread_sweep = [PO_DEFAULT_THREADS, *args.po_thread_sweep]
    server, port = start_server(connect_delay_ms=args.connect_delay_ms)
    if args.verbose:
        print(f"loopback Postmark on 127.0.0.1:{port}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench_postpurchase_"))
    started = time.monotonic()
    try:
        figs = [f for db in dbs for f in esp_bench(db, args, workdir, server)]
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    esp_report(figs)
    if args.rounds > 1:
        esp_summary(figs)
    print(f"\n(whole run {time.monotonic() - started:.0f}s)")
    return 1 if any(f.problems for f in figs) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=None, help="emails (enrollments) per run (20000; --esp: 5000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes per phase")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=200, help='POSTPURCHASE["BATCH_SIZE"]')
    parser.add_argument("--po-batch-size", type=int, default=1000, help='POST_OFFICE["BATCH_SIZE"]')
    parser.add_argument(
        "--po-threads", type=int, default=1, help='POST_OFFICE["THREADS_PER_PROCESS"]'
    )
    esp = parser.add_argument_group("ESP-latency runs (--esp postmark)")
    esp.add_argument(
        "--esp",
        choices=["none", "postmark"],
        default="none",
        help="postmark: Anymail's Postmark backend against esp_server.py on 127.0.0.1",
    )
    esp.add_argument(
        "--latencies", type=_floats, default=[0.0, 20.0, 100.0], help="ms, e.g. 0,20,100"
    )
    esp.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help='POSTPURCHASE["SEND_CONCURRENCY"] (unset: the app\'s default)',
    )
    esp.add_argument(
        "--po-thread-sweep",
        type=_ints,
        default=[5, 16, 32, 64],
        help="post_office THREADS_PER_PROCESS values to try (5, its default, always)",
    )
    esp.add_argument(
        "--connect-delay-ms",
        type=float,
        default=0.0,
        help="extra ESP delay on each new TCP connection (a TLS handshake)",
    )
    esp.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat floor, post_office and pipeline this many times; print medians",
    )
    esp.add_argument(
        "--no-po-default",
        action="store_true",
        help="skip post_office at its default 5 threads (slow at high latency)",
    )
    parser.add_argument("-q", "--quiet", dest="verbose", action="store_false")
    args = parser.parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if args.esp == "postmark":
        args.n = args.n or 5000
        return esp_main(args, dbs)
    args.n = args.n or 20_000
    workdir = Path(tempfile.mkdtemp(prefix="bench_postpurchase_"))
    try:
        figs = [bench(db, args, workdir) for db in dbs]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
