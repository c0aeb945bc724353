"""The health monitor and the retention purge at size: every rule, the hourly figures,
the admin banner's query and one purge run, over 1,000,000 Messages, 500,000 Events and
Enrollments and 1,000,000 MessageEvents.

    BENCH_DATABASE_URL=postgres://.../a_db python benchmarks/health.py [--rounds 5]
        [--messages 1000000] [--events 500000] [--message-events 1000000]

Fills the database (migrated, then emptied) with INSERT ... SELECT over
generate_series, copying one row made through the ORM (so every column has a valid
value), ids growing with time as in a live shop: 100,000 contacts; one live flow that
opens with an email; N events over the last ~58 days, each with an enrollment (one in
500 active, due tomorrow); M messages over the same days (2 % bounced, 0.1 %
complained); K MessageEvents over ~230 days. Then
ANALYZE, and times each call (median of the rounds, ms): each rule, ``check()``,
``hourly(24)``, ``open_incidents()`` (the banner), and ``purge_expired()`` with the
default batches (10 x 1,000 per table, MessageEvents after 180 days, Events after 30).
See docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--message-events", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres"):
        sys.exit("needs BENCH_DATABASE_URL=postgres://.../a_db_you_can_empty")
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from postpurchase import clock, retention
    from postpurchase.monitoring import RULES, check, hourly, open_incidents

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _fill(args.events, args.messages, args.message_events)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"filled in {time.perf_counter() - started:.0f} s ({connection.vendor})")

    def timed(label: str, call) -> None:
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        print(f"{label:34} {statistics.median(times):8.1f} ms (min {min(times):.1f})")

    now = clock.now()
    for rule in RULES:
        timed(rule.__name__, lambda rule=rule: rule(now))
    timed("check() (all rules)", lambda: check(now))
    timed("hourly(24)", lambda: hourly(now, 24))
    timed("open_incidents() (banner)", open_incidents)
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "RETENTION": {"EVENTS_DAYS": 30}}
    for round_ in range(1, 4):
        start = time.perf_counter()
        deleted = retention.purge_expired()
        took = time.perf_counter() - start
        print(f"purge_expired() run {round_}: {deleted} rows in {took * 1000:.0f} ms")


def _fill(events: int, messages: int, message_events: int) -> None:
    from django.db import connection

    from postpurchase import clock
    from postpurchase.models import (
        Contact,
        EmailStep,
        EmailTemplate,
        Enrollment,
        Event,
        Flow,
        Incident,
        Message,
        MessageEvent,
    )

    for model in (MessageEvent, Message, Enrollment, Event, Incident, Contact):
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
    Flow.objects.all().delete()
    EmailTemplate.objects.all().delete()
    now = clock.now()
    flow = Flow.objects.create(name="Bench", slug="bench", trigger="order_placed", status="live")
    # Live for a long time: the rules ignore what happened before a flow went live.
    Flow.objects.filter(pk=flow.pk).update(updated_at=now - timedelta(days=730))
    template = EmailTemplate.objects.create(slug="bench", name="Bench")
    step = EmailStep.objects.create(flow=flow, position=1, template=template)
    contact = Contact.objects.create(email="c0@example.com")
    event = Event.objects.create(contact=contact, name="order_placed", occurred_at=now)
    enrollment = Enrollment.objects.create(
        flow=flow,
        contact=contact,
        trigger_event=event,
        dedupe_key="seed",
        triggered_at=now,
        step_entered_at=now,
        status="completed",
    )
    message = Message.objects.create(
        enrollment=enrollment,
        step=step,
        contact=contact,
        to_email=contact.email,
        category="marketing",
        status="sent",
        created_at=now,
        sent_at=now,
    )
    seed_event = MessageEvent.objects.create(
        esp="bench", event_id="seed", kind="delivered", occurred_at=now, message=message
    )
    stamp = now.isoformat()
    _clone(Contact, contact.pk, 100_000, {"email": "'c' || g || '@bench.example'"})
    first_contact = Contact.objects.exclude(pk=contact.pk).order_by("pk").first().pk
    _clone(
        Event,
        event.pk,
        events,
        {
            "contact_id": f"{first_contact} + (g % 100000)",
            "occurred_at": f"'{stamp}'::timestamptz - ({events} - g) * interval '10 seconds'",
            "created_at": f"'{stamp}'::timestamptz - ({events} - g) * interval '10 seconds'",
        },
    )
    first_event = Event.objects.exclude(pk=event.pk).order_by("pk").first().pk
    _clone(
        Enrollment,
        enrollment.pk,
        events,
        {
            "contact_id": f"{first_contact} + (g % 100000)",
            "trigger_event_id": f"{first_event} + g - 1",
            "dedupe_key": "'b:' || g",
            "status": "CASE WHEN g % 500 = 0 THEN 'active' ELSE 'completed' END",
            "due_at": f"CASE WHEN g % 500 = 0 THEN '{stamp}'::timestamptz + interval '1 day' END",
            "triggered_at": f"'{stamp}'::timestamptz - ({events} - g) * interval '10 seconds'",
        },
    )
    first_enrollment = Enrollment.objects.exclude(pk=enrollment.pk).order_by("pk").first().pk
    _clone(
        Message,
        message.pk,
        messages,
        {
            "id": "gen_random_uuid()",
            "enrollment_id": f"{first_enrollment} + ((g - 1) % {events})",
            "visit": f"1 + (g - 1) / {events}",
            "created_at": f"'{stamp}'::timestamptz - ({messages} - g) * interval '5 seconds'",
            "sent_at": f"'{stamp}'::timestamptz - ({messages} - g) * interval '5 seconds'",
            "bounced_at": f"CASE WHEN g % 50 = 0 THEN '{stamp}'::timestamptz END",
            "complained_at": f"CASE WHEN g % 1000 = 0 THEN '{stamp}'::timestamptz END",
        },
    )
    _clone(
        MessageEvent,
        seed_event.pk,
        message_events,
        {
            "event_id": "'e' || g",
            "message_id": "NULL",
            "occurred_at": (
                f"'{stamp}'::timestamptz - ({message_events} - g) * interval '20 seconds'"
            ),
        },
    )


def _clone(model, pk, count: int, overrides: dict[str, str]) -> None:
    """INSERT ``count`` copies of row ``pk`` of ``model``, with SQL expressions of ``g``
    (1..count) for the columns in ``overrides``; the primary key is left to its
    sequence unless overridden."""
    from django.db import connection

    table = model._meta.db_table
    pk_column = model._meta.pk.column
    columns = [
        f.column
        for f in model._meta.concrete_fields
        if f.column != pk_column or f.column in overrides
    ]
    values = [overrides.get(column, f"t.{column}") for column in columns]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {table} t, generate_series(1, {count}) g "
        f"WHERE t.{pk_column} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("%", "%%").replace("%%s", "%s"), [pk])


if __name__ == "__main__":
    main()
