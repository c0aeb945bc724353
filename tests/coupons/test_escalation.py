"""Escalating offers: a bigger code only when the earlier one went unused, and the earlier
one withdrawn when the step says so."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import TestCase

from postpurchase import signals
from postpurchase.coupons import redeem_coupon, validate_coupon
from postpurchase.models import Coupon, CouponPolicy, EmailStep, Enrollment
from postpurchase.testing.factories import DelayStepFactory, EmailStepFactory, FlowFactory
from tests.core.helpers import place, run_clock

pytestmark = pytest.mark.django_db


def policy(name: str, **terms) -> CouponPolicy:
    return CouponPolicy.objects.create(name=name, validity_days=60, **terms)


@pytest.fixture
def escalating(request):
    """Email (10 %), a day, email (15 %, only if unused), a day, email (free shipping)."""
    withdraw = getattr(request, "param", False)
    flow = FlowFactory(exit_events=[])
    EmailStepFactory(flow=flow, position=1, coupon_policy=policy("10", kind="percent", percent=10))
    DelayStepFactory(flow=flow, position=2, days=1)
    EmailStepFactory(
        flow=flow,
        position=3,
        coupon_policy=policy("15", kind="percent", percent=15),
        coupon_escalation=EmailStep.Escalation.IF_UNUSED,
        withdraw_previous=withdraw,
    )
    DelayStepFactory(flow=flow, position=4, days=1)
    EmailStepFactory(
        flow=flow,
        position=5,
        coupon_policy=policy("ship", kind="free_shipping"),
        coupon_escalation=EmailStep.Escalation.IF_UNUSED,
        withdraw_previous=withdraw,
    )
    return flow


def codes() -> list[Coupon]:
    return list(Coupon.objects.order_by("issued_at", "pk"))


def test_each_unused_offer_is_followed_by_a_bigger_new_one(escalating, frozen):
    place()
    run_clock(frozen, days=3)
    offers = codes()
    assert [(c.kind, c.percent) for c in offers] == [
        ("percent", Decimal("10.00")),
        ("percent", Decimal("15.00")),
        ("free_shipping", None),
    ]
    assert len({c.code for c in offers}) == 3  # each code new ...
    assert {c.contact.email for c in offers} == {"anna@example.com"}  # ... and hers
    # Without withdrawal every code stays valid.
    assert all(validate_coupon(c.code, "anna@example.com", 100, now=frozen.now) for c in offers)


def test_no_bigger_offer_once_the_earlier_code_was_used(escalating, frozen):
    place()
    run_clock(frozen, days=0)
    (first,) = codes()
    redeem_coupon(first.code, "anna@example.com", "shop.order:2", 100, now=frozen.now)
    run_clock(frozen, days=3)
    assert codes() == [first]
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.COMPLETED  # the emails still went out
    assert enrollment.messages.filter(status="sent").count() == 3


@pytest.mark.parametrize("escalating", [True], indirect=True)
def test_withdrawing_leaves_only_the_newest_code_valid(escalating, frozen, settings):
    withdrawn = []

    def on_withdrawn(sender, coupon, replaced_by, **kwargs):
        withdrawn.append((coupon.code, replaced_by.code))

    signals.coupon_withdrawn.connect(on_withdrawn, dispatch_uid="test-withdrawn")
    try:
        place()
        run_clock(frozen, days=3)
    finally:
        signals.coupon_withdrawn.disconnect(dispatch_uid="test-withdrawn")
    first, second, third = codes()
    check = {
        c.code: validate_coupon(c.code, "anna@example.com", 100, now=frozen.now) for c in codes()
    }
    assert [check[c.code].ok for c in (first, second, third)] == [False, False, True]
    assert check[first.code].reason == "expired"
    assert withdrawn == [(first.code, second.code), (second.code, third.code)]
    # A withdrawn code is not withdrawn (or announced) again by a later run.
    with TestCase.captureOnCommitCallbacks(execute=True):
        from postpurchase.coupons import withdraw_earlier

        assert withdraw_earlier(Enrollment.objects.get().pk, third, frozen.now) == 0
    assert frozen.now - first.issued_at >= timedelta(days=2)
