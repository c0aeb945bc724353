"""What pacing costs: a marketing email step's batches with the frequency cap (and the
contacts' own frequency) on and off, against a realistic history of earlier sends.

    python benchmarks/pacing.py [--n 2000] [--history 4] [--rounds 3] [--db sqlite|postgres]

Creates a fresh database (SQLite file /tmp/bench_pacing.sqlite3 in WAL mode, or the
PostgreSQL database BENCH_DATABASE_URL names). For each round and each setting (cap off;
cap on: FREQUENCY_CAP one a day and a quarter of the contacts
weekly), N new contacts, each
with ``--history`` marketing emails sent 2 to 29 days ago, and N enrollments due now at
a marketing email step; then one process loops ``advance_due()`` (batches of 200,
Anymail's test backend) until nothing is due. Reports enrollments per second, the
queries per enrollment, and what became of the emails (sent, deferred). See
docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import time

from bench_db import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--history", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    setup_django(args.db, "/tmp/bench_pacing.sqlite3")

    from datetime import timedelta

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from postpurchase import clock, engine
    from postpurchase.models import Contact, Enrollment, Message
    from postpurchase.models.contacts import EmailFrequency
    from postpurchase.testing.factories import EmailStepFactory, FlowFactory, order_snapshot

    call_command("migrate", verbosity=0)
    base = dict(settings.POSTPURCHASE)
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    now = clock.now()

    def setup(tag: str, weekly: bool) -> None:
        flow = FlowFactory(slug=f"bench-{tag}")
        step = EmailStepFactory(flow=flow, category="marketing")
        contacts = Contact.objects.bulk_create(
            Contact(
                email=f"{tag}-{i}@example.com",
                email_frequency=(
                    EmailFrequency.WEEKLY if weekly and i % 4 == 0 else EmailFrequency.ALL
                ),
            )
            for i in range(args.n)
        )
        snapshot = order_snapshot(items=2)
        enrollments = Enrollment.objects.bulk_create(
            Enrollment(
                flow=flow,
                contact=c,
                dedupe_key=f"{tag}:{c.pk}",
                snapshot=snapshot,
                step=step,
                triggered_at=now,
                step_entered_at=now,
                due_at=now,
            )
            for c in contacts
        )
        old = [
            Message(
                enrollment=e,
                step=step,
                visit=100 + h,
                contact=e.contact,
                to_email=e.contact.email,
                category="marketing",
                status="sent",
                created_at=now - timedelta(days=2 + 27 * h // max(args.history, 1)),
                sent_at=now - timedelta(days=2 + 27 * h // max(args.history, 1)),
            )
            for e in enrollments
            for h in range(args.history)
        ]
        Message.objects.bulk_create(old, batch_size=2000)

    def run(tag: str) -> dict:
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            connection.force_debug_cursor = True
            while engine.advance_due(now):
                pass
        elapsed = time.perf_counter() - start
        fresh = Message.objects.filter(enrollment__flow__slug=f"bench-{tag}", visit=1)
        return {
            "per_s": args.n / elapsed,
            "queries": len(queries) / args.n,
            "sent": fresh.filter(status="sent").count(),
            "deferred": fresh.filter(status="deferred").count(),
        }

    rows: dict[str, list[dict]] = {"cap off": [], "cap on": []}
    for r in range(args.rounds):
        for label, extra in (
            ("cap off", {}),
            ("cap on", {"FREQUENCY_CAP": {"emails": 1, "hours": 24}}),
        ):
            settings.POSTPURCHASE = {**base, **extra}
            tag = f"{label.replace(' ', '')}{r}"
            setup(tag, weekly=bool(extra))
            rows[label].append(run(tag))
    print(f"db={args.db} n={args.n} history={args.history} rounds={args.rounds}")
    head = ("setting", "enrollments/s (best)", "queries/enr.", "sent", "deferred")
    print(f"{head[0]:<8} {head[1]:>21} {head[2]:>13} {head[3]:>6} {head[4]:>9}")
    for label, results in rows.items():
        best = max(results, key=lambda x: x["per_s"])
        print(
            f"{label:<8} {best['per_s']:>21.0f} {best['queries']:>13.3f} "
            f"{best['sent']:>6} {best['deferred']:>9}"
        )


if __name__ == "__main__":
    main()
