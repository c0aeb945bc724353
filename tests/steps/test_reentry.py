"""Re-entry "at most once per N days"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from postpurchase.models import Enrollment, Flow
from postpurchase.testing.factories import FlowFactory, SignalStepFactory

from ..core.helpers import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def weekly(db):
    flow = FlowFactory(reentry=Flow.Reentry.ONCE_PER_PERIOD, reentry_days=7)
    SignalStepFactory(flow=flow, position=1)
    return flow


def test_once_per_period(frozen, weekly):
    place(number="1")
    frozen.advance(timedelta(days=3))
    place(number="2")  # within 7 days: a duplicate
    frozen.advance(timedelta(days=4) - timedelta(minutes=1))
    place(number="3")  # still a minute short of 7 days after the first
    assert Enrollment.objects.count() == 1
    frozen.advance(timedelta(minutes=1))
    place(number="4")  # 7 days after the first: enrolls again
    assert list(Enrollment.objects.order_by("id").values_list("order_ref", flat=True)) == [
        "shop.order:1",
        "shop.order:4",
    ]
    frozen.advance(timedelta(days=1))
    place(number="5")  # the period now counts from the second enrollment
    assert Enrollment.objects.count() == 2


def test_period_is_per_contact_and_per_flow(frozen, weekly):
    other_flow = FlowFactory(reentry=Flow.Reentry.ONCE_PER_PERIOD, reentry_days=7)
    SignalStepFactory(flow=other_flow, position=1)
    place(email="anna@example.com", number="1")
    place(email="bob@example.com", number="2")
    assert Enrollment.objects.filter(flow=weekly).count() == 2
    assert Enrollment.objects.filter(flow=other_flow).count() == 2


def test_period_has_no_calendar_boundaries(frozen, weekly):
    # A key like floor(epoch_days / 7) would let these two, a minute apart across a
    # period boundary, both enroll. 2026-11-26 00:00 UTC is such a boundary (day 20,783
    # is a multiple of 7).
    frozen.set(frozen.now.replace(day=25, hour=23, minute=59))
    place(number="1")
    frozen.advance(timedelta(minutes=2))
    place(number="2")
    assert Enrollment.objects.count() == 1


def test_the_same_event_twice_enrolls_once(frozen, weekly):
    from postpurchase.engine import enroll

    event = place(number="1")
    assert enroll(event) == []
    assert Enrollment.objects.get().dedupe_key == f"period:{event.contact_id}:{event.pk}"


def test_flow_needs_the_days():
    flow = FlowFactory.build(reentry=Flow.Reentry.ONCE_PER_PERIOD, reentry_days=None)
    with pytest.raises(ValidationError) as info:
        flow.full_clean()
    assert "reentry_days" in info.value.message_dict
