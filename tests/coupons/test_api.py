"""Issuing, checking and redeeming codes through the public API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from postpurchase import signals
from postpurchase.coupons import (
    CouponError,
    Reason,
    issue_coupon,
    issue_for_message,
    redeem_coupon,
    validate_coupon,
)
from postpurchase.exceptions import PostpurchaseError
from postpurchase.models import Coupon, CouponPolicy, CouponRedemption, Message
from postpurchase.testing.factories import ContactFactory, EmailStepFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def on_issued(sender, coupon, **kwargs):
        calls.append(("issued", coupon.code))

    def on_redeemed(sender, coupon, redemption, **kwargs):
        calls.append(("redeemed", coupon.code, redemption.order_ref))

    signals.coupon_issued.connect(on_issued)
    signals.coupon_redeemed.connect(on_redeemed)
    yield calls
    signals.coupon_issued.disconnect(on_issued)
    signals.coupon_redeemed.disconnect(on_redeemed)


def _message(contact):
    step = EmailStepFactory()
    enrollment = EnrollmentFactory(flow=step.flow, contact=contact)
    return Message.objects.create(
        enrollment=enrollment,
        step=step,
        contact=contact,
        to_email=contact.email,
        category="marketing",
        created_at=enrollment.triggered_at,
    )


def test_issue_copies_the_policy_and_binds_the_contact(policy, contact, frozen):
    coupon = issue_coupon(policy, contact)
    assert coupon.contact == contact
    assert coupon.code.startswith("THX-") and len(coupon.code) == 16
    assert coupon.percent == Decimal("10") and coupon.uses_left == 1
    assert coupon.expires_at == frozen.now + timedelta(days=30)
    policy.percent = Decimal("50")
    policy.save()
    coupon.refresh_from_db()
    assert coupon.percent == Decimal("10")  # an edit never changes a code already sent


def test_issue_is_idempotent_per_message(
    policy, contact, frozen, hooks, received, django_capture_on_commit_callbacks
):
    message = _message(contact)
    with django_capture_on_commit_callbacks(execute=True):
        first = issue_for_message(policy, message)
        again = issue_for_message(policy, message)
        # Even bypassing the lookup, the unique (message, policy) constraint answers.
        raced = issue_coupon(policy, contact, message=message)
    assert first.pk == again.pk == raced.pk
    assert Coupon.objects.count() == 1
    assert hooks.mirrored == [first.code]
    assert received == [("issued", first.code)]


def test_another_policy_on_the_same_message_gets_its_own_code(policy, contact):
    other = CouponPolicy.objects.create(name="Free shipping", kind="free_shipping")
    message = _message(contact)
    assert issue_for_message(policy, message).code != issue_for_message(other, message).code


def test_valid_code_gives_the_discount(policy, contact):
    coupon = issue_coupon(policy, contact)
    check = validate_coupon(coupon.code.lower(), "Anna@Example.com", Decimal("2500"))
    assert check.ok and check.reason is None and check.message == ""
    assert check.discount == Decimal("250.00")
    assert check.coupon == coupon


def test_fixed_amount_and_free_shipping(contact):
    fixed = CouponPolicy.objects.create(
        name="500 off", kind="fixed", amount=Decimal("500"), currency="RUB"
    )
    ship = CouponPolicy.objects.create(name="Free shipping", kind="free_shipping")
    check = validate_coupon(issue_coupon(fixed, contact).code, contact.email, Decimal("300"))
    assert check.discount == Decimal("300.00")  # never more than the cart
    check = validate_coupon(issue_coupon(ship, contact).code, contact.email, Decimal("300"))
    assert check.ok and check.free_shipping and check.discount == 0


@pytest.mark.parametrize("code", ["", "THX-NOSUCHCODE22", "nonsense"])
def test_unknown(code):
    check = validate_coupon(code, "anna@example.com", Decimal("5000"))
    assert not check.ok and check.reason == Reason.UNKNOWN
    assert "does not exist" in check.message


def test_expired(policy, contact, frozen):
    coupon = issue_coupon(policy, contact)
    frozen.advance(timedelta(days=30))
    assert validate_coupon(coupon.code, contact.email, 5000).reason == Reason.EXPIRED


def test_used(policy, contact):
    coupon = issue_coupon(policy, contact)
    redeem_coupon(coupon.code, contact.email, "order-1", Decimal("5000"))
    assert validate_coupon(coupon.code, contact.email, 5000).reason == Reason.USED


def test_wrong_customer(policy, contact):
    coupon = issue_coupon(policy, contact)
    ContactFactory(email="boris@example.com")
    assert validate_coupon(coupon.code, "boris@example.com", 5000).reason == Reason.WRONG_CUSTOMER
    assert validate_coupon(coupon.code, "not an email", 5000).reason == Reason.WRONG_CUSTOMER


def test_below_minimum(policy, contact):
    coupon = issue_coupon(policy, contact)
    assert validate_coupon(coupon.code, contact.email, 999).reason == Reason.BELOW_MINIMUM
    assert validate_coupon(coupon.code, contact.email, 1000).ok


def test_category_mismatch(contact):
    restricted = CouponPolicy.objects.create(
        name="Backpacks only", kind="percent", percent=Decimal("15"), categories="Backpacks, Bags"
    )
    code = issue_coupon(restricted, contact).code
    check = validate_coupon(code, contact.email, 5000, categories=["Accessories"])
    assert check.reason == Reason.CATEGORY_MISMATCH
    assert validate_coupon(code, contact.email, 5000, categories=["accessories", "backpacks"]).ok
    assert validate_coupon(code, contact.email, 5000).reason == Reason.CATEGORY_MISMATCH


def test_currency_mismatch(policy, contact):
    coupon = issue_coupon(policy, contact)
    check = validate_coupon(coupon.code, contact.email, 5000, currency="EUR")
    assert check.reason == Reason.CURRENCY_MISMATCH
    assert validate_coupon(coupon.code, contact.email, 5000, currency="rub").ok


def test_redeem_records_and_signals_after_commit(
    policy, contact, received, django_capture_on_commit_callbacks
):
    coupon = issue_coupon(policy, contact)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        redemption = redeem_coupon(coupon.code, contact.email, "order-1", Decimal("2500"))
        assert [r for r in received if r[0] == "redeemed"] == []
    for callback in callbacks:
        callback()
    assert ("redeemed", coupon.code, "order-1") in received
    assert redemption.discount == Decimal("250.00")
    assert redemption.cart_total == Decimal("2500")
    coupon.refresh_from_db()
    assert coupon.uses_left == 0


def test_redeeming_the_same_order_again_returns_the_first_redemption(policy, contact):
    coupon = issue_coupon(policy, contact)
    first = redeem_coupon(coupon.code, contact.email, "order-1", Decimal("2500"))
    again = redeem_coupon(coupon.code, contact.email, "order-1", Decimal("2500"))
    assert first.pk == again.pk
    assert CouponRedemption.objects.count() == 1


def test_multi_use_code(contact):
    multi = CouponPolicy.objects.create(
        name="x2", kind="percent", percent=Decimal("5"), uses_per_code=2
    )
    code = issue_coupon(multi, contact).code
    redeem_coupon(code, contact.email, "o1", 100)
    redeem_coupon(code, contact.email, "o2", 100)
    with pytest.raises(CouponError) as info:
        redeem_coupon(code, contact.email, "o3", 100)
    assert info.value.reason == Reason.USED


@pytest.mark.parametrize(
    ("email", "total", "reason"),
    [
        ("anna@example.com", 10, Reason.BELOW_MINIMUM),
        ("boris@example.com", 5000, Reason.WRONG_CUSTOMER),
    ],
)
def test_redeem_raises_a_specific_error(policy, contact, email, total, reason):
    coupon = issue_coupon(policy, contact)
    with pytest.raises(CouponError) as info:
        redeem_coupon(coupon.code, email, "order-1", total)
    assert info.value.reason == reason
    assert isinstance(info.value, PostpurchaseError) and isinstance(info.value, ValueError)
    assert CouponRedemption.objects.count() == 0
    coupon.refresh_from_db()
    assert coupon.uses_left == 1


def test_redeem_unknown_and_expired(policy, contact, frozen):
    with pytest.raises(CouponError) as info:
        redeem_coupon("THX-NOPE", contact.email, "order-1", 5000)
    assert info.value.reason == Reason.UNKNOWN
    coupon = issue_coupon(policy, contact)
    frozen.advance(timedelta(days=31))
    with pytest.raises(CouponError) as info:
        redeem_coupon(coupon.code, contact.email, "order-1", 5000)
    assert info.value.reason == Reason.EXPIRED


def test_value_text_in_the_contacts_language(policy, contact):
    from django.utils import translation

    fixed = CouponPolicy.objects.create(
        name="500", kind="fixed", amount=Decimal("1500"), currency="RUB"
    )
    coupon = issue_coupon(fixed, contact)
    with translation.override("ru"):
        assert coupon.value_text == "1\xa0500\xa0₽"
    with translation.override("en"):
        assert issue_coupon(policy, contact).value_text == "10%"
