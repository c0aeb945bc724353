"""What a claim hands back: the due enrollments, earliest due first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase import engine
from postpurchase.models import Enrollment
from postpurchase.testing.factories import DelayStepFactory, EnrollmentFactory, FlowFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "ordering", [None, ["-due_at"], ["-id"]], ids=["model-ordering", "-due_at", "-id"]
)
def test_a_claimed_batch_comes_back_in_due_order(frozen, monkeypatch, ordering):
    """Created in one order, due in another: the batch is in due_at order (ties by id),
    whatever the model's default ordering says."""
    if ordering is not None:
        monkeypatch.setattr(Enrollment._meta, "ordering", ordering)
    flow = FlowFactory()
    DelayStepFactory(flow=flow)
    now = frozen.now

    def due(hours_ago: int) -> Enrollment:
        return EnrollmentFactory(flow=flow, due_at=now - timedelta(hours=hours_ago))

    a, b, c, d = due(1), due(3), due(2), due(2)
    _, claimed = engine.claim_due(now)
    assert [e.pk for e in claimed] == [b.pk, c.pk, d.pk, a.pk]
    _, rest = engine.claim_due(now)
    assert rest == []


def test_a_limited_claim_takes_the_earliest_due(frozen):
    flow = FlowFactory()
    DelayStepFactory(flow=flow)
    now = frozen.now
    late = EnrollmentFactory(flow=flow, due_at=now - timedelta(minutes=1))
    early = EnrollmentFactory(flow=flow, due_at=now - timedelta(hours=5))
    middle = EnrollmentFactory(flow=flow, due_at=now - timedelta(hours=1))
    _, first = engine.claim_due(now, limit=2)
    assert [e.pk for e in first] == [early.pk, middle.pk]
    _, second = engine.claim_due(now, limit=2)
    assert [e.pk for e in second] == [late.pk]
