"""The analytics page at size: a flow's figures over 1,000,000 MessageEvents.

    python benchmarks/analytics.py [--messages 250000] [--rounds 5]
                                   [--database bench_analytics] [--keep] [--reuse]

On a PostgreSQL database of its own (dropped and created again; ``--reuse`` keeps the
rows a ``--keep`` run left) it bulk-loads, with ``INSERT ... SELECT generate_series``:

- two live flows: the measured one with three email steps (half of the emails), the
  other with two;
- one contact and one enrollment per email, ``--messages`` sent emails spread over the
  last 90 days, with the tracking roll-ups tracking leaves on them (about 95 %
  delivered, 2 % bounced, 45 % opened by people, 12 % clicked, 40 % with a machine
  open, 0.3 % unsubscribed, 0.05 % complaints);
- four MessageEvents per email (delivered, a human open, a machine open, a click:
  1,000,000 for 250,000 emails) and a conversion for 2 % of the emails in two
  currencies, then VACUUM ANALYZE.

Then, through Django's test client as a logged-in superuser (the whole request: the
admin's session and permission checks, the two GROUP BY queries, the chart, the
template), ``--rounds`` times each: the flow's analytics page for the default 30 days,
for 90 days and for 365 days (a point per week), its CSV, and the flow's change page
(the diagram shows each step's last 30 days). Prints each page's p50 and max, and
EXPLAIN (ANALYZE, BUFFERS) of the report's GROUP BY queries. Target: the analytics page
under 1 s. Exits 1 if missed. Only 127.0.0.1. See docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from scale import PG_URL, _database  # noqa: E402  (benchmarks/, on the path from here on)

TARGET_PAGE_S = 1.0


def load(messages: int) -> dict:
    """Migrate, create the flows, and bulk-load contacts, enrollments, messages, events
    and conversions."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from postpurchase.models import EmailStep, EmailTemplate, Flow

    call_command("migrate", verbosity=0)
    now = timezone.now()
    template = EmailTemplate.objects.create(slug="bench", name="Bench")
    steps = []
    for slug, count in (("measured", 3), ("other", 2)):
        flow = Flow.objects.create(
            name=slug, slug=slug, trigger="order_placed", status=Flow.Status.LIVE
        )
        for position in range(1, count + 1):
            steps.append(
                (
                    flow.pk,
                    EmailStep.objects.create(
                        flow=flow, position=position, name=f"Email {position}", template=template
                    ).pk,
                )
            )
    # Email i: the measured flow for even i (its steps in turn), the other for odd i.
    measured = [s for f, s in steps if f == steps[0][0]]
    other = [s for f, s in steps if f != steps[0][0]]
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO postpurchase_contact (email, first_name, last_name, locale, timezone,
                attributes, suppression_reason, created_at, updated_at)
            SELECT 'customer' || i || '@example.com', 'Anna', 'Petrova', 'en', '', '{}', '',
                   %(now)s, %(now)s
            FROM generate_series(1, %(n)s) AS i ORDER BY i
            """,
            {"n": messages, "now": now},
        )
        cur.execute("SELECT min(id) FROM postpurchase_contact")
        contact0 = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO postpurchase_enrollment (flow_id, contact_id, dedupe_key, order_ref,
                snapshot, status, step_entered_at, attempts, triggered_at, exit_reason,
                last_error, created_at, visits)
            SELECT CASE WHEN i %% 2 = 0 THEN %(fa)s ELSE %(fb)s END, %(c0)s + i - 1,
                   'bench:' || i, 'shop.order:' || i, '{}', 'completed', %(now)s, 0, %(now)s,
                   '', '', %(now)s, '{}'
            FROM generate_series(1, %(n)s) AS i ORDER BY i
            """,
            {"n": messages, "c0": contact0, "fa": steps[0][0], "fb": steps[-1][0], "now": now},
        )
        cur.execute("SELECT min(id) FROM postpurchase_enrollment")
        enrollment0 = cur.fetchone()[0]
        # h: a pseudo-random number 0..9999 per email, for the roll-ups.
        cur.execute(
            """
            INSERT INTO postpurchase_message (id, visit, attempts, error, created_at,
                enrollment_id, step_id, contact_id, to_email, language, subject, category,
                status, esp_name, esp_message_id, unconfirmed, sent_at, delivered_at,
                bounced_at, complained_at, unsubscribed_at, opened_at, clicked_at, opens,
                machine_opens, clicks, machine_clicks)
            SELECT gen_random_uuid(), 1, 1, '', sent, %(e0)s + i - 1,
                   CASE WHEN i %% 2 = 0 THEN (%(ma)s::bigint[])[1 + (i / 2) %% 3]
                        ELSE (%(mb)s::bigint[])[1 + (i / 2) %% 2] END,
                   %(c0)s + i - 1, 'customer' || i || '@example.com', 'en', 'Hello',
                   'marketing', 'sent', 'bench', 'esp-' || i, false, sent,
                   CASE WHEN h < 9500 THEN sent + interval '5 seconds' END,
                   CASE WHEN h >= 9800 THEN sent + interval '5 seconds' END,
                   CASE WHEN h %% 2000 = 7 THEN sent + interval '1 day' END,
                   CASE WHEN h %% 333 = 5 THEN sent + interval '1 day' END,
                   CASE WHEN h < 4500 THEN sent + interval '2 hours' END,
                   CASE WHEN h < 1200 THEN sent + interval '3 hours' END,
                   CASE WHEN h < 4500 THEN 1 + h %% 3 ELSE 0 END,
                   CASE WHEN h %% 10 < 4 THEN 1 ELSE 0 END,
                   CASE WHEN h < 1200 THEN 1 + h %% 2 ELSE 0 END,
                   CASE WHEN h %% 50 = 1 THEN 1 ELSE 0 END
            FROM (
                SELECT i, (i::bigint * 7919) %% 10000 AS h,
                       %(now)s - ((i::bigint * 104729) %% 129600) * interval '1 minute' AS sent
                FROM generate_series(1, %(n)s) AS i
            ) AS rows ORDER BY sent
            """,
            {
                "n": messages,
                "e0": enrollment0,
                "c0": contact0,
                "ma": measured,
                "mb": other,
                "now": now,
            },
        )
        cur.execute(
            """
            INSERT INTO postpurchase_messageevent (esp, event_id, kind, occurred_at,
                received_at, message_id, esp_message_id, recipient, url, user_agent,
                reject_reason, description, mta_response, raw, machine, machine_reason)
            SELECT 'bench', m.esp_message_id || '-' || k, (ARRAY['delivered', 'opened',
                   'opened', 'clicked'])[k], m.sent_at + k * interval '1 minute',
                   m.sent_at + k * interval '1 minute', m.id, m.esp_message_id, m.to_email,
                   CASE WHEN k = 4 THEN 'https://shop.example.com/p/1/' ELSE '' END,
                   'Mozilla/5.0', '', '', '', '{}', k = 3,
                   CASE WHEN k = 3 THEN 'apple_mpp' ELSE '' END
            FROM postpurchase_message m CROSS JOIN generate_series(1, 4) AS k
            """
        )
        cur.execute(
            """
            INSERT INTO postpurchase_conversion (kind, key, event_id, message_id, flow_id,
                step_id, contact_id, event_name, order_ref, touch, touched_at, revenue,
                currency, occurred_at, created_at, sent_at)
            SELECT 'order', 'order:bench:' || m.esp_message_id, NULL, m.id, e.flow_id,
                   m.step_id, m.contact_id, 'order_placed', 'bench:' || m.esp_message_id,
                   'click', m.clicked_at, 1000 + length(m.esp_message_id) * 100,
                   CASE WHEN length(m.esp_message_id) % 2 = 0 THEN 'RUB' ELSE 'EUR' END,
                   m.clicked_at + interval '1 hour', m.clicked_at + interval '1 hour', m.sent_at
            FROM postpurchase_message m JOIN postpurchase_enrollment e ON e.id = m.enrollment_id
            WHERE m.clicked_at IS NOT NULL AND hashtext(m.esp_message_id) % 6 = 0
            """
        )
    loaded = time.monotonic() - started
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    return {"load_s": round(loaded, 1), "vacuum_s": round(time.monotonic() - started - loaded, 1)}


def counts() -> dict:
    from postpurchase.models import Conversion, Message, MessageEvent

    return {
        "messages": Message.objects.count(),
        "message_events": MessageEvent.objects.count(),
        "conversions": Conversion.objects.count(),
    }


def explain(flow) -> str:
    """EXPLAIN ANALYZE of the report's GROUP BY queries for the default 30 days, as
    Django ran them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from postpurchase.analytics import reports

    with CaptureQueriesContext(connection) as ran:
        reports.flow_report(flow, *reports.default_range())
    plans = []
    with connection.cursor() as cur:
        for query in ran.captured_queries:
            if "GROUP BY" in query["sql"]:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cur.fetchall())
                plans.append(f"-- {query['sql'][:200]} ...\n{plan}")
    return "\n\n".join(plans)


def measure(rounds: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from postpurchase.models import Flow

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    flow = Flow.objects.get(slug="measured")
    analytics = reverse("admin:postpurchase_flow_analytics", args=[flow.pk])
    pages = {
        "analytics, 30 days": analytics,
        "analytics, 90 days": analytics + "?start=" + _days_ago(89),
        "analytics, 365 days (by week)": analytics + "?start=" + _days_ago(364),
        "CSV, 30 days": reverse("admin:postpurchase_flow_analytics_csv", args=[flow.pk]),
        "flow page (editor and diagram)": reverse("admin:postpurchase_flow_change", args=[flow.pk]),
    }
    found = {}
    for name, url in pages.items():
        times = []
        for _ in range(rounds + 1):  # the first warms the caches, not counted
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (name, response.status_code)
        found[name] = times[1:]
    return {"pages": found, "plan": explain(flow)}


def _days_ago(n: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=n)).isoformat()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=250_000, help="4 MessageEvents each")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default="bench_analytics", help="dropped and created")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", action="store_true", help="the rows of a --keep run")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    os.environ["DATABASE_URL"] = PG_URL.format(name=args.database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_shop.settings"
    if not args.reuse:
        _database(args.database, "create")
    import django

    django.setup()
    failed = False
    try:
        if not args.reuse:
            print(f"load: {load(args.messages)}", flush=True)
        print(f"rows: {counts()}", flush=True)
        out = measure(args.rounds)
        print("\nEXPLAIN ANALYZE of the GROUP BY queries (30 days):")
        print(out["plan"])
        print()
        for name, times in out["pages"].items():
            p50 = statistics.median(times)
            print(f"{name}: p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
            if name.startswith("analytics") and p50 > TARGET_PAGE_S:
                failed = True
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _database(args.database, "drop")
    print(
        f"\ntarget: the analytics page under {TARGET_PAGE_S:.0f} s: {'MISSED' if failed else 'met'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
