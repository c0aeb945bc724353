from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from postpurchase import engine, track
from postpurchase.models import Message
from postpurchase.testing.factories import (
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    order_snapshot,
)


def place(email="anna@example.com", number="1001", locale="en", first_name="Anna", **extra):
    """Record an order_placed event the way the inbound signal does."""
    order = order_snapshot(
        email=email, number=number, locale=locale, first_name=first_name, **extra
    )
    return track(
        "order_placed",
        email=email,
        data={"order": order},
        order_ref=f"shop.order:{number}",
        contact={"first_name": first_name, "locale": locale},
    )


def run_due() -> int:
    """One scheduler pass, as if it committed: the test runs in a transaction, and the
    outbound signals (which wait for the commit) are sent at the end of the pass."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return engine.run_due()


def run_clock(clock, days: int = 30) -> list[tuple[timedelta, int]]:
    """Jump the simulated clock from due time to due time, running what is due (each
    pass committed, see :func:`run_due`), for ``days``. Returns (offset, enrollments
    advanced) per jump."""
    start = clock.now
    log = []
    log.append((timedelta(0), run_due()))
    while True:
        nxt = engine.next_due_at()
        if nxt is None or nxt > start + timedelta(days=days):
            return log
        clock.set(max(nxt, clock.now))
        log.append((clock.now - start, run_due()))


def queries_to_send(n: int, tag: str, category: str = "transactional", **step) -> int:
    """Queries one run_due() makes to send ``n`` enrollments their email (a flow of its
    own, so each call measures only its own batch)."""
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category=category, **step)
    for i in range(n):
        EnrollmentFactory(flow=flow, contact__email=f"{tag}{i}@example.com")
    with CaptureQueriesContext(connection) as captured:
        engine.run_due()
    assert Message.objects.filter(step__flow=flow, status="sent").count() == n
    return len(captured)
