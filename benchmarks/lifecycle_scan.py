"""The date-trigger scan at size: one pass over 1,000,000 contacts on PostgreSQL.

    python benchmarks/lifecycle_scan.py [--contacts 1000000] [--database bench_lifecycle]
                                        [--batch-size 1000] [--keep]

On a PostgreSQL database of its own (dropped and created again) it bulk-loads, with
``INSERT ... SELECT generate_series``:

- ``--contacts`` contacts in 8 time zones (Pacific/Kiritimati to America/Adak), each
  with a birthday spread over the year (29 February included);
- one ``order_placed`` event per contact, spread over the past two years (so every day
  someone's last order turns 90 days old, an order 30 days old, a first order a year
  old), with a five-item snapshot;
- one unused coupon per tenth contact, expiring over the next 60 days;
- five live flows, one per date trigger (winback 90 days, 30 days after an order,
  birthday, anniversary, coupon 3 days before expiry), each a single one-day delay: a
  fired event is recorded and enrolls. What is measured is the scan: the wake-ups of
  the new enrollments are collected (``EXECUTION="celery"`` with a task that only counts
  them) and left to the scheduler, whose cost ``scale.py`` measures.

Then, each in a freshly spawned process, ``scan_date_triggers()`` at a fixed moment:

first    the first scan (``LIFECYCLE_CATCH_UP_DAYS`` = 1: yesterday's and today's
         moments);
again    the same moment again: nothing is new (the cost of the hourly runs);
daily    a day later: one day's new moments, the steady daily scan.

Each prints its seconds, the events it recorded and the process's peak RSS
(``ru_maxrss``/VmHWM). Target: the daily scan under 60 s, peak RSS under 250 MB. Exits
1 if one is missed. Only 127.0.0.1. See docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import spawn  # noqa: E402  (benchmarks/, on the path from here on)
from scale import PG_URL, _database  # noqa: E402  (one way to make the database)

ZONES = [
    "Pacific/Kiritimati",
    "Asia/Tokyo",
    "Europe/Moscow",
    "Europe/Kyiv",
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Adak",
]
#: The scan's moment: fixed, so every run fires the same occurrences.
MOMENT = "2026-12-01T10:00:00+00:00"
TARGET_SECONDS = 60.0
TARGET_PEAK_RSS_MB = 250.0


# --- runs in child processes ----------------------------------------------------------


def _django(batch_size: int = 1000) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django
    from django.conf import settings

    django.setup()
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "EXECUTION": "celery",
        "LIFECYCLE_CATCH_UP_DAYS": 1,
        "LIFECYCLE_BATCH_SIZE": batch_size,
    }


def _rss_mb() -> float:
    import resource

    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    hwm = int(match.group(1)) / 1024 if match else 0.0
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, hwm)


def load(contacts: int) -> dict:
    """Migrate, create the five flows and bulk-load contacts, orders and coupons."""
    _django()
    from datetime import datetime

    from django.core.management import call_command
    from django.db import connection, transaction
    from throughput import order_snapshot

    from postpurchase.models import CouponPolicy, DelayStep, Flow

    call_command("migrate", verbosity=0)
    now = datetime.fromisoformat(MOMENT)
    for trigger, days in [
        ("winback_due", 90),
        ("order_followup_due", 30),
        ("birthday", 0),
        ("first_order_anniversary", 0),
        ("coupon_expiring", 3),
    ]:
        flow = Flow.objects.create(
            name=trigger, slug=trigger, trigger=trigger, trigger_days=days, status="live"
        )
        DelayStep.objects.create(flow=flow, position=1, days=1)
    policy = CouponPolicy.objects.create(name="bench", kind="percent", percent=10)
    snapshot = json.dumps(order_snapshot(0, now), ensure_ascii=False)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO postpurchase_contact (email, first_name, last_name, locale, timezone,
                attributes, suppression_reason, birthday, created_at, updated_at)
            SELECT 'customer' || i || '@example.com', 'Anna', 'Petrova',
                   CASE WHEN i %% 2 = 0 THEN 'ru' ELSE 'en' END,
                   (%(zones)s::text[])[1 + i %% 8], '{}', '',
                   DATE '1988-01-01' + ((i::bigint * 7919) %% 366)::int, %(now)s, %(now)s
            FROM generate_series(1, %(n)s) AS i ORDER BY i
            """,
            {"n": contacts, "now": now, "zones": ZONES},
        )
        cur.execute("SELECT min(id) FROM postpurchase_contact")
        contact0 = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO postpurchase_event (contact_id, name, ref, order_ref, data, snapshot,
                occurred_at, created_at)
            SELECT %(c0)s + i - 1, 'order_placed', 'shop.order:' || i, 'shop.order:' || i,
                   '{}', %(snap)s::jsonb,
                   %(now)s - ((i::bigint * 104729) %% (730 * 1440)) * interval '1 minute',
                   %(now)s
            FROM generate_series(1, %(n)s) AS i ORDER BY i
            """,
            {"n": contacts, "c0": contact0, "snap": snapshot, "now": now},
        )
        cur.execute(
            """
            INSERT INTO postpurchase_coupon (policy_id, code, contact_id, kind, percent,
                currency, minimum_total, categories, uses_left, issued_at, expires_at)
            SELECT %(p)s, 'BENCH' || i, %(c0)s + i - 1, 'percent', 10, '', 0, '', 1,
                   %(now)s - interval '30 days',
                   %(now)s + ((i::bigint * 7919) %% (60 * 1440)) * interval '1 minute'
            FROM generate_series(10, %(n)s, 10) AS i ORDER BY i
            """,
            {"n": contacts, "c0": contact0, "p": policy.pk, "now": now},
        )
    loaded = time.monotonic() - started
    with connection.cursor() as cur:
        for table in ("postpurchase_contact", "postpurchase_event", "postpurchase_coupon"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return {
        "load_seconds": round(loaded, 1),
        "vacuum_seconds": round(time.monotonic() - started - loaded, 1),
    }


def scan(days_later: int, batch_size: int) -> dict:
    """One ``scan_date_triggers()`` at MOMENT + ``days_later`` days."""
    _django(batch_size)
    from datetime import datetime, timedelta

    from django.db import connection
    from django.db.models import Count

    from postpurchase import clock
    from postpurchase.engine.dispatch import use_celery_task
    from postpurchase.lifecycle.scan import scan_date_triggers
    from postpurchase.models import Enrollment, Event

    woken: list[int] = []

    class CountingTask:
        """Stands in for the Celery task: the scheduler would run these."""

        @staticmethod
        def delay(ids: list[int]) -> None:
            woken.extend(ids)

    use_celery_task(CountingTask)
    at = datetime.fromisoformat(MOMENT) + timedelta(days=days_later)
    connection.ensure_connection()
    before = _rss_mb()
    started = time.monotonic()
    with clock.frozen_at(at):
        fired = scan_date_triggers()
    seconds = time.monotonic() - started
    by_name = dict(
        Event.objects.exclude(dedupe_key=None).values_list("name").annotate(n=Count("pk"))
    )
    return {
        "seconds": round(seconds, 2),
        "fired": fired,
        "events_so_far": by_name,
        "enrollments": Enrollment.objects.count(),
        "woken": len(woken),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
    }


# --- the orchestrator (no Django here) ------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000, help="LIFECYCLE_BATCH_SIZE")
    parser.add_argument("--database", default="bench_lifecycle", help="dropped and created")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    os.environ["BENCH_DATABASE_URL"] = PG_URL.format(name=args.database)
    results = {}
    try:
        _database(args.database, "create")
        print(f"load: {spawn.call(__name__, 'load', args.contacts)}", flush=True)
        for label, days_later in (("first", 0), ("again", 0), ("daily", 1)):
            results[label] = spawn.call(__name__, "scan", days_later, args.batch_size)
            print(f"{label}: {results[label]}", flush=True)
    finally:
        if not args.keep:
            _database(args.database, "drop")
    daily = results["daily"]
    peak = max(r["peak_rss_mb"] for r in results.values())
    ok = daily["seconds"] < TARGET_SECONDS and peak < TARGET_PEAK_RSS_MB
    print(
        f"\ndaily scan of {args.contacts:,} contacts: {daily['seconds']:.1f} s "
        f"(target < {TARGET_SECONDS:.0f}), {daily['fired']:,} events; peak RSS {peak:.0f} MB "
        f"(target < {TARGET_PEAK_RSS_MB:.0f}): {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
