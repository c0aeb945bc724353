"""Webhook ingestion: a 1,000-event SendGrid batch through Anymail's view, recorded one
event at a time (``anymail.urls``) and the whole post at once
(``postpurchase.tracking.urls``).

    python benchmarks/webhooks.py [--events 1000] [--rounds 3] [--db sqlite|postgres]
                                  [--path both|per-event|batched]

Creates a fresh database (SQLite file /tmp/bench_webhooks.sqlite3 in WAL mode, or the
PostgreSQL database BENCH_DATABASE_URL names), N/4 sent Messages, and posts batches of N
SendGrid events (for each message: processed, delivered, open, click; every event
names its Message in the metadata, as our emails do) to ``/anymail/sendgrid/tracking/``
through Django's test client, with Anymail's basic auth, for each path (plain
``/anymail/``: one by one; ``/batched/anymail/``: postpurchase.tracking.urls, the post
at once), each with its own fresh messages. Reports per round the wall time
of the whole POST (parsing, auth, Anymail's signal, our receiver, the commits), events
per second, then the same batch replayed (every event found and skipped) and the
queries per event. See docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
import uuid
import warnings
from contextlib import nullcontext

from bench_db import setup_django

SECRET = "bench:bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--atomic", action="store_true", help="one transaction per post")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--path", choices=["both", "per-event", "batched"], default="both")
    args = parser.parse_args()
    os.environ["BENCH_WEBHOOKS"] = "1"  # bench_urls adds both webhook URL sets
    setup_django(args.db, "/tmp/bench_webhooks.sqlite3")
    warnings.simplefilter("ignore")  # Anymail: "dropped official support for SendGrid"

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from postpurchase.models import MessageEvent

    call_command("migrate", verbosity=0)
    if args.db == "postgres":
        MessageEvent.objects.all().delete()
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}

    def post(url: str, body: str) -> float:
        start = time.perf_counter()
        with transaction.atomic() if args.atomic else nullcontext():
            response = client.post(url, data=body, content_type="application/json", **auth)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return elapsed

    paths = {
        "per-event": "/anymail/sendgrid/tracking/",
        "batched": "/batched/anymail/sendgrid/tracking/",
    }
    chosen = list(paths) if args.path == "both" else [args.path]
    print(f"database: {connection.vendor}, {args.events} events per batch")
    with override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET}):
        for name in chosen:
            url = paths[name]
            messages = _messages(args.events // 4)  # fresh ones: first opens to fill
            for round_ in range(1, args.rounds + 1):
                body = _batch(messages, f"{name}-r{round_}")
                before = MessageEvent.objects.count()
                fresh = post(url, body)
                added = MessageEvent.objects.count() - before
                replay = post(url, body)
                assert MessageEvent.objects.count() - before == added == len(messages) * 4
                print(
                    f"{name} round {round_}: new batch {fresh * 1000:.0f} ms "
                    f"({added / fresh:,.0f} events/s), replayed {replay * 1000:.0f} ms"
                )
            body = _batch(messages, f"{name}-q")
            with CaptureQueriesContext(connection) as fresh_q:
                post(url, body)
            with CaptureQueriesContext(connection) as replay_q:
                post(url, body)
            n = len(messages) * 4
            print(
                f"{name} queries per batch of {n}: {len(fresh_q)} new, {len(replay_q)} replayed "
                "(BEGIN/COMMIT not counted on SQLite)"
            )


def _messages(count: int) -> list:
    from postpurchase import clock
    from postpurchase.models import Contact, EmailStep, Enrollment, Flow, Message
    from postpurchase.recipes import install

    flow = install("post-purchase-series", live=True)
    step = EmailStep.objects.filter(flow=flow).first()
    tag = uuid.uuid4().hex[:8]
    now = clock.now()
    contacts = Contact.objects.bulk_create(
        Contact(email=f"c{i}-{tag}@example.com") for i in range(count)
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(
            flow=flow,
            contact=c,
            dedupe_key=f"bench:{tag}:{c.pk}",
            snapshot={},
            triggered_at=now,
            step_entered_at=now,
            status="completed",
        )
        for c in contacts
    )
    assert isinstance(flow, Flow)
    return Message.objects.bulk_create(
        Message(
            enrollment=e,
            step=step,
            contact=e.contact,
            to_email=e.contact.email,
            category="marketing",
            status="sent",
            sent_at=now,
            created_at=now,
        )
        for e in enrollments
    )


def _batch(messages: list, prefix: str) -> str:
    events = []
    ts = int(time.time())
    for message in messages:
        for kind in ("processed", "delivered", "open", "click"):
            event = {
                "email": message.to_email,
                "timestamp": ts,
                "event": kind,
                "sg_event_id": f"{prefix}-{message.pk}-{kind}",
                "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
                "anymail_id": str(uuid.uuid4()),
                "postpurchase_message": str(message.pk),
            }
            if kind == "click":
                event["url"] = "https://shop.example.com/product/backpack"
            if kind in ("open", "click"):
                event["useragent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
                event["ip"] = "203.0.113.7"
            events.append(event)
    return json.dumps(events)


if __name__ == "__main__":
    main()
