"""The scheduler at size: claim latency and one worker's memory on a big enrollment table.

    python benchmarks/scale.py [--enrollments 1000000] [--due 100000] [--batch-size 200]
                               [--database bench_scale] [--max-seconds 600] [--keep]
                               [--reuse]

On a PostgreSQL database of its own (dropped and created again; ``--reuse`` keeps the
rows a ``--keep`` run left and only puts the due ones back) it bulk-loads, with
``INSERT ... SELECT generate_series``:

- one contact per enrollment, in two live flows of two delay steps each
  (1 day, then 3 days, both counted from the previous step);
- ``--due`` enrollments due now (spread over the past week, every tenth row of the
  table, each with its trigger event) at the first delay, entered two days ago, so it
  has passed: a walk runs it (Next) and then the second delay, which waits. No email is
  rendered or sent: what is measured is the engine and the database, not templates;
- 40 % of the table active and due in the next 30 days, the rest completed;
- every row with a five-item order snapshot (that of throughput.py), then VACUUM ANALYZE.

Then, each in a freshly spawned process:

explain  one ``claim_due()`` with its SQL captured; EXPLAIN (ANALYZE, BUFFERS) of the
         reload of the claimed rows, then (the claim undone) of the selection (FOR
         UPDATE SKIP LOCKED) and the lease UPDATE, each rolled back; printed in full.
drain    one worker looping ``claim_due()`` + ``process()`` (what ``advance_due()``
         does, timed apart) until nothing is due, at most ``--max-seconds`` and
         due / batch size + 10 batches: claim latency p50/p95/max of the batches and the
         process's peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss`` and VmHWM), next to
         its RSS before the first claim.

Targets: claim p95 under 20 ms for a 200-batch, peak RSS under 250 MB. Exits 1 if one
is missed. Only 127.0.0.1. See docs/benchmarks.md for results.
"""

from __future__ import annotations

import argparse
import json
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

import spawn  # noqa: E402  (benchmarks/, on the path from here on)

PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"

TARGET_CLAIM_P95_MS = 20.0
TARGET_PEAK_RSS_MB = 250.0

ENROLLMENT = "postpurchase_enrollment"


# --- runs in child processes ----------------------------------------------------------


def _django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()


def _rss_mb() -> dict:
    import resource

    status = Path("/proc/self/status").read_text()

    def kb(field: str) -> float:
        match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) / 1024 if match else float("nan")

    return {
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "VmHWM": kb("VmHWM"),
        "VmRSS": kb("VmRSS"),
    }


def load(enrollments: int, due: int) -> dict:
    """Migrate, create the two flows and bulk-load contacts, events and enrollments."""
    _django()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from throughput import order_snapshot

    from postpurchase.models import DelayStep, Flow

    call_command("migrate", verbosity=0)
    now = timezone.now()
    flows = []
    for slug in ("scale-a", "scale-b"):
        flow = Flow.objects.create(
            name=slug, slug=slug, trigger="order_placed", status=Flow.Status.LIVE
        )
        first = DelayStep.objects.create(flow=flow, position=1, days=1)
        DelayStep.objects.create(flow=flow, position=2, days=3)
        flows.append((flow.pk, first.pk))
    (flow_a, step_a), (flow_b, step_b) = flows
    second = dict(
        DelayStep.objects.filter(position=2).values_list("flow_id", "pk")
    )  # flow -> its second step
    every = max(1, enrollments // due)  # every n-th row is due
    snapshot = json.dumps(order_snapshot(0, now), ensure_ascii=False)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO postpurchase_contact (email, first_name, last_name, locale, timezone,
                attributes, suppression_reason, created_at, updated_at)
            SELECT 'customer' || i || '@example.com', 'Anna', 'Petrova',
                   CASE WHEN i %% 2 = 0 THEN 'ru' ELSE 'en' END, '', '{}', '', %(now)s, %(now)s
            FROM generate_series(1, %(n)s) AS i ORDER BY i
            """,
            {"n": enrollments, "now": now},
        )
        cur.execute("SELECT min(id) FROM postpurchase_contact")
        contact0 = cur.fetchone()[0]
        # Trigger events of the due enrollments (the claim's reload joins them).
        cur.execute(
            """
            INSERT INTO postpurchase_event (contact_id, name, ref, order_ref, data, snapshot,
                occurred_at, created_at)
            SELECT %(c0)s + i - 1, 'order_placed', 'shop.order:' || i, 'shop.order:' || i,
                   '{}', %(snap)s::jsonb, %(now)s, %(now)s
            FROM generate_series(%(every)s, %(n)s, %(every)s) AS i ORDER BY i
            """,
            {"n": enrollments, "every": every, "c0": contact0, "snap": snapshot, "now": now},
        )
        cur.execute("SELECT min(id) FROM postpurchase_event")
        event0 = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO postpurchase_enrollment (flow_id, contact_id, trigger_event_id,
                dedupe_key, order_ref, snapshot, status, step_id, step_entered_at, due_at,
                attempts, triggered_at, finished_at, exit_reason, last_error, created_at, visits)
            SELECT CASE WHEN i %% 2 = 0 THEN %(fa)s ELSE %(fb)s END,
                   %(c0)s + i - 1,
                   CASE WHEN kind = 'due' THEN %(e0)s + i / %(every)s - 1 END,
                   kind || ':' || i,
                   'shop.order:' || i,
                   %(snap)s::jsonb || jsonb_build_object(
                       'number', i::text, 'ref', 'shop.order:' || i,
                       'email', 'customer' || i || '@example.com'),
                   CASE WHEN kind = 'done' THEN 'completed' ELSE 'active' END,
                   CASE kind WHEN 'due' THEN (CASE WHEN i %% 2 = 0 THEN %(sa)s ELSE %(sb)s END)
                             WHEN 'waiting' THEN (CASE WHEN i %% 2 = 0 THEN %(wa)s ELSE %(wb)s END)
                   END,
                   %(now)s - interval '2 days',
                   CASE kind
                       WHEN 'due' THEN %(now)s - ((i::bigint * 7919) %% 10080) * interval '1 minute'
                       WHEN 'waiting' THEN %(now)s + interval '1 hour'
                                           + ((i::bigint * 7919) %% 43200) * interval '1 minute'
                   END,
                   0, %(now)s - interval '2 days',
                   CASE WHEN kind = 'done' THEN %(now)s - interval '1 day' END,
                   '', '', %(now)s - interval '2 days', '{}'::jsonb
            FROM (
                SELECT i, CASE WHEN i %% %(every)s = 0 THEN 'due'
                               WHEN i %% 10 < 5 THEN 'waiting' ELSE 'done' END AS kind
                FROM generate_series(1, %(n)s) AS i
            ) AS rows ORDER BY i
            """,
            {
                "n": enrollments,
                "every": every,
                "c0": contact0,
                "e0": event0,
                "fa": flow_a,
                "fb": flow_b,
                "sa": step_a,
                "sb": step_b,
                "wa": second[flow_a],
                "wb": second[flow_b],
                "snap": snapshot,
                "now": now,
            },
        )
        # The arithmetic above assumed contiguous ids: check it did not go wrong.
        cur.execute(
            """SELECT count(*) FROM postpurchase_enrollment e
               JOIN postpurchase_event ev ON ev.id = e.trigger_event_id
               WHERE ev.ref <> e.order_ref OR ev.contact_id <> e.contact_id"""
        )
        assert cur.fetchone()[0] == 0, "trigger events do not match their enrollments"
    loaded = time.monotonic() - started
    _vacuum()
    return {"load_seconds": loaded, "vacuum_seconds": time.monotonic() - started - loaded}


def reset(due: int) -> dict:
    """Put the due enrollments of an earlier run back where ``load`` put them."""
    _django()
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE postpurchase_enrollment e SET
                status = 'active', attempts = 0, finished_at = NULL, last_error = '',
                lease_token = NULL, lease_expires_at = NULL,
                step_id = s.id, step_entered_at = %(now)s - interval '2 days',
                due_at = %(now)s - ((split_part(e.dedupe_key, ':', 2)::bigint * 7919) %% 10080)
                                   * interval '1 minute'
            FROM postpurchase_step s
            WHERE s.flow_id = e.flow_id AND s.position = 1 AND e.dedupe_key LIKE 'due:%%'
            """,
            {"now": timezone.now()},
        )
        count = cur.rowcount
    _vacuum()
    return {"reset": count}


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        for table in (ENROLLMENT, "postpurchase_contact", "postpurchase_event"):
            cur.execute(f"VACUUM ANALYZE {table}")


def sizes() -> dict:
    _django()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT count(*) FILTER (WHERE status = 'active' AND due_at <= now()),
                       count(*) FILTER (WHERE status = 'active'), count(*),
                       pg_size_pretty(pg_table_size('{ENROLLMENT}')),
                       pg_size_pretty(pg_indexes_size('{ENROLLMENT}'))
                FROM {ENROLLMENT}"""
        )
        due, active, total, table, indexes = cur.fetchone()
        cur.execute(
            "SELECT indexname, pg_size_pretty(pg_relation_size(indexname::regclass)), indexdef"
            " FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
            [ENROLLMENT],
        )
        index_list = [list(row) for row in cur.fetchall()]
    return {
        "due": due,
        "active": active,
        "total": total,
        "table": table,
        "indexes": indexes,
        "index_list": index_list,
    }


class _Rollback(Exception):
    pass


def explain(batch_size: int) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the queries of one real claim, which is then undone."""
    _django()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from postpurchase.engine import claim_due
    from postpurchase.models import Enrollment

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        token, claimed = claim_due(limit=batch_size)
        ms = (time.perf_counter() - started) * 1000
    queries = [
        q
        for q in captured.captured_queries
        if ENROLLMENT in q["sql"] and q["sql"].lstrip().upper().startswith(("SELECT", "UPDATE"))
    ]

    def analyze(query: dict) -> dict:
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
                plan = "\n".join(row[0] for row in cur.fetchall())
                raise _Rollback  # the UPDATE and the row locks are undone
        except _Rollback:
            pass
        return {"sql": query["sql"], "ms": float(query["time"]) * 1000, "plan": plan}

    # The reload (last) while the rows are still ours; then undo the claim, so the
    # selection and the lease UPDATE find the same rows due and free again.
    reload = analyze(queries[-1])
    Enrollment.objects.filter(pk__in=[e.pk for e in claimed]).update(
        lease_token=None, lease_expires_at=None
    )
    plans = [analyze(q) for q in queries[:-1]] + [reload]
    return {"claimed": len(claimed), "claim_ms": ms, "plans": plans}


def drain(batch_size: int, due: int, max_seconds: float) -> dict:
    """One worker draining everything due, batch by batch: claim latency and peak RSS."""
    _django()
    from django.db import connection

    from postpurchase import clock
    from postpurchase.engine import claim_due, process
    from postpurchase.models import Enrollment

    connection.ensure_connection()
    Enrollment.objects.filter(pk=0).exists()  # first query's imports outside the figures
    before = _rss_mb()
    claims: list[float] = []
    claim_cpu: list[float] = []
    processing: list[float] = []
    drained = 0
    started = time.monotonic()
    deadline = started + max_seconds
    for _ in range(due // batch_size + 10):
        if time.monotonic() > deadline:
            break
        now = clock.now()
        t0, c0 = time.perf_counter(), time.process_time()
        _, batch = claim_due(now, limit=batch_size)
        t1, c1 = time.perf_counter(), time.process_time()
        if not batch:
            break
        process(batch, now)
        t2 = time.perf_counter()
        claims.append((t1 - t0) * 1000)
        claim_cpu.append((c1 - c0) * 1000)
        processing.append((t2 - t1) * 1000)
        drained += len(batch)
    seconds = time.monotonic() - started
    after = _rss_mb()
    return {
        "drained": drained,
        "batches": len(claims),
        "seconds": seconds,
        "claims_ms": claims,
        # This process's CPU time per claim: what a claim costs the worker when the
        # machine is not shared (the wall time above also counts waiting for a core).
        "claim_cpu_ms": claim_cpu,
        "process_ms": processing,
        "rss_before": before,
        "rss_after": after,
        "timed_out": time.monotonic() > deadline,
    }


# --- the orchestrator (no Django here) ------------------------------------------------


def call(fn_name: str, *args):
    """``fn_name(*args)`` of this script in a fresh process (benchmarks/spawn.py)."""
    return spawn.call(__name__, fn_name, *args)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _database(name: str, action: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if action == "create":
            conn.execute(f"CREATE DATABASE {name}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000, help="of them due now")
    parser.add_argument("--batch-size", type=int, default=200, help='POSTPURCHASE["BATCH_SIZE"]')
    parser.add_argument("--database", default="bench_scale", help="dropped and created")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="for the drain")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", action="store_true", help="the rows of a --keep run")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    os.environ["BENCH_DATABASE_URL"] = PG_URL.format(name=args.database)
    os.environ["BENCH_BATCH_SIZE"] = str(args.batch_size)
    whole = time.monotonic()
    try:
        if args.reuse:
            print(f"reuse {args.database}: {call('reset', args.due)}", flush=True)
        else:
            _database(args.database, "create")
            print(f"load: {call('load', args.enrollments, args.due)}", flush=True)
        size = call("sizes")
        print(
            f"enrollments: {size['total']:,} ({size['active']:,} active, {size['due']:,} due);"
            f" table {size['table']}, indexes {size['indexes']}"
        )
        for name, bytes_, definition in size["index_list"]:
            print(f"  {name} {bytes_}: {definition}")
        shown = call("explain", args.batch_size)
        print(f"\nexplain: one claim of {shown['claimed']} took {shown['claim_ms']:.1f} ms")
        for item in shown["plans"]:
            sql = item["sql"]
            print(f"\n-- {item['ms']:.1f} ms: {sql[:160]}{' ...' if len(sql) > 160 else ''}")
            print(item["plan"])
        out = call("drain", args.batch_size, args.due, args.max_seconds)
    finally:
        if not args.keep:
            _database(args.database, "drop")
    claims = out["claims_ms"]
    peak = max(out["rss_after"]["ru_maxrss"], out["rss_after"]["VmHWM"])
    p95 = _pct(claims, 0.95)
    print(
        f"\ndrain: {out['drained']:,} enrollments in {out['batches']} batches,"
        f" {out['seconds']:.1f} s{' (stopped at --max-seconds)' if out['timed_out'] else ''}"
    )
    print(
        f"claim ms: p50 {_pct(claims, 0.5):.1f}  p95 {p95:.1f}  max {max(claims, default=0):.1f}"
        f"  (first {claims[0] if claims else 0:.1f}, mean {statistics.fmean(claims or [0]):.1f})"
    )
    cpu = out["claim_cpu_ms"]
    print(
        f"claim CPU ms of the worker: p50 {_pct(cpu, 0.5):.1f}  p95 {_pct(cpu, 0.95):.1f}"
        "  (add the statements' execution times above for a claim on an idle machine)"
    )
    proc = out["process_ms"]
    print(f"process ms per batch: p50 {_pct(proc, 0.5):.1f}  p95 {_pct(proc, 0.95):.1f}")
    b, a = out["rss_before"], out["rss_after"]
    print(
        f"RSS MB: before the first claim {b['VmRSS']:.0f} (peak so far {b['VmHWM']:.0f});"
        f" after the drain {a['VmRSS']:.0f}; peak ru_maxrss {a['ru_maxrss']:.0f},"
        f" VmHWM {a['VmHWM']:.0f}"
    )
    ok_claim, ok_rss = p95 < TARGET_CLAIM_P95_MS, peak < TARGET_PEAK_RSS_MB
    print(
        f"targets: claim p95 < {TARGET_CLAIM_P95_MS:.0f} ms {'met' if ok_claim else 'MISSED'};"
        f" peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB {'met' if ok_rss else 'MISSED'}"
    )
    print(f"(whole run {time.monotonic() - whole:.0f} s)")
    return 0 if ok_claim and ok_rss and not out["timed_out"] else 1


if __name__ == "__main__":
    sys.exit(main())
