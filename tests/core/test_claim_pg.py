"""The scheduler's queries at size use indexes: run with DATABASE_URL=postgres://...

Every claim, and the save that ends a batch, reads or writes a few hundred enrollments of
a table that grows by one row per order. A query that scans the whole table costs
nothing in a test database of ten rows and seconds per batch in a shop's; only the
planner, given a table of some size and its statistics, shows which it is.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase import engine
from postpurchase.models import Enrollment
from postpurchase.testing.factories import (
    ContactFactory,
    DelayStepFactory,
    FlowFactory,
    order_snapshot,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TABLE = Enrollment._meta.db_table


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _scans_of_enrollments(sql: str) -> list[str]:
    """The node types by which the planner reads the enrollment table for ``sql``."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return [n["Node Type"] for n in _nodes(plan) if n.get("Relation Name") == TABLE]


def _fill(flow, now, *, due: int, waiting: int, done: int) -> None:
    """``due`` enrollments due now, ``waiting`` due in days, ``done`` completed."""
    contacts = [ContactFactory() for _ in range(20)]
    step = flow.steps.order_by("position").first()
    snapshot = order_snapshot(items=3)
    rows = []
    for i in range(due + waiting + done):
        if i < due:
            status, due_at = Enrollment.Status.ACTIVE, now - timedelta(minutes=i % 600)
        elif i < due + waiting:
            status, due_at = Enrollment.Status.ACTIVE, now + timedelta(hours=1 + i % 500)
        else:
            status, due_at = Enrollment.Status.COMPLETED, None
        rows.append(
            Enrollment(
                flow=flow,
                contact=contacts[i % len(contacts)],
                dedupe_key=f"scale:{i}",
                snapshot=snapshot,
                status=status,
                step=step if status == Enrollment.Status.ACTIVE else None,
                step_entered_at=now - timedelta(days=2),
                triggered_at=now - timedelta(days=2),
                due_at=due_at,
                finished_at=None if status == Enrollment.Status.ACTIVE else now,
            )
        )
    # Interleave the kinds on disk, as a real table's history does.
    rows.sort(key=lambda e: hash(e.dedupe_key))
    Enrollment.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")


def test_a_claim_and_its_save_read_enrollments_by_index(frozen):
    """A batch at the front of 5,000 enrollments: the claim's selection, its lease
    UPDATE, the reload of the claimed rows and the save that releases them each reach
    the enrollment table through an index, never by reading all of it."""
    flow = FlowFactory()
    DelayStepFactory(flow=flow, days=1)  # passed: two days since the step was entered
    waits = DelayStepFactory(flow=flow, days=3)
    now = frozen.now
    _fill(flow, now, due=300, waiting=3200, done=1500)

    with CaptureQueriesContext(connection) as captured:
        assert engine.advance_due(now, limit=200) == 200

    statements = [
        q["sql"]
        for q in captured.captured_queries
        if TABLE in q["sql"] and q["sql"].lstrip().upper().startswith(("SELECT", "UPDATE"))
    ]
    # The selection, the lease UPDATE, the reload and the save's check at the least.
    assert len(statements) >= 4, statements
    for sql in statements:
        scans = _scans_of_enrollments(sql)
        assert scans, sql
        assert "Seq Scan" not in scans, f"{scans} for {sql}"
    # By the step itself: factory positions count on across the whole test run.
    waiting = Enrollment.objects.filter(due_at__gt=now + timedelta(days=2), step=waits)
    assert waiting.count() == 200
