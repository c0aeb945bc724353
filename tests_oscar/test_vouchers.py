"""Codes issued by postpurchase work in Oscar's basket as vouchers bound to their
customer, and Oscar's use of them comes back as redemptions."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from postpurchase.coupons import expire_coupons, issue_coupon
from postpurchase.models import Contact, Coupon, CouponPolicy, CouponRedemption

from .conftest import Applicator, basket_for, place_order, run_clock

pytestmark = pytest.mark.django_db

Voucher = get_model("voucher", "Voucher")
FixedPrice = get_class("shipping.methods", "FixedPrice")
Repository = get_class("shipping.repository", "Repository")


def issue(capture, email="boris@example.com", **terms):
    policy = CouponPolicy.objects.create(
        name="Thanks", **{"kind": "percent", "percent": Decimal("10"), **terms}
    )
    contact, _ = Contact.objects.get_or_create(email=email)
    with capture(execute=True):  # codes are mirrored once the issue commits
        return issue_coupon(policy, contact)


def with_voucher(basket, code, user=None):
    """What Oscar's VoucherAddView does with a code the customer typed."""
    user = user or AnonymousUser()
    voucher = Voucher.objects.get(code=code)
    assert voucher.is_active() and voucher.is_available_to_user(user)[0]
    basket.vouchers.add(voucher)
    Applicator().apply(basket, user)
    return basket


def test_a_mirrored_code_gives_its_discount_in_oscars_basket(
    product, django_capture_on_commit_callbacks
):
    user = factories.UserFactory(email="boris@example.com")
    coupon = issue(django_capture_on_commit_callbacks)

    basket = with_voucher(basket_for(user, product, quantity=2), coupon.code, user)

    assert basket.total_incl_tax == Decimal("90.00")  # 10% off 2 x 50
    voucher = Voucher.objects.get(code=coupon.code)
    assert voucher.usage == Voucher.SINGLE_USE
    assert (voucher.start_datetime, voucher.end_datetime) == (coupon.issued_at, coupon.expires_at)


def test_the_series_code_is_accepted_at_oscars_checkout_and_redeemed(
    series, product, frozen, django_capture_on_commit_callbacks
):
    user = factories.UserFactory(email="boris@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        place_order(basket_for(user, product), user)
    run_clock(frozen, days=3)  # email 2, two days later, carries a code
    coupon = Coupon.objects.get()
    assert coupon.code in mail.outbox[1].body
    assert re.fullmatch(r"BACK-\w{12}", coupon.code)

    basket = with_voucher(basket_for(user, product), coupon.code, user)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket, user)

    assert order.total_incl_tax == Decimal("45.00")
    redemption = CouponRedemption.objects.get()
    assert redemption.order_ref == f"oscar.order:{order.pk}"
    coupon.refresh_from_db()
    assert coupon.uses_left == 0
    assert not Voucher.objects.get(code=coupon.code).is_available_to_user(user)[0]


def test_another_customers_basket_gets_no_discount(product, django_capture_on_commit_callbacks):
    coupon = issue(django_capture_on_commit_callbacks, email="boris@example.com")
    factories.UserFactory(email="boris@example.com")
    someone = factories.UserFactory(email="someone@example.com")

    basket = with_voucher(basket_for(someone, product), coupon.code, someone)
    assert basket.total_incl_tax == Decimal("50.00")
    # And a guest cannot use a code sent to an account's address: Boris signs in.
    guest_basket = with_voucher(basket_for(None, product), coupon.code)
    assert guest_basket.total_incl_tax == Decimal("50.00")


def test_a_guest_uses_a_code_sent_to_a_guest_address(product, django_capture_on_commit_callbacks):
    coupon = issue(django_capture_on_commit_callbacks, email="anna@example.com")
    basket = with_voucher(basket_for(None, product), coupon.code)
    assert basket.total_incl_tax == Decimal("45.00")


def test_fixed_amount_and_minimum_total(product, django_capture_on_commit_callbacks):
    user = factories.UserFactory(email="boris@example.com")
    coupon = issue(
        django_capture_on_commit_callbacks,
        kind="fixed",
        percent=None,
        amount=Decimal("5"),
        currency="GBP",
        minimum_total=Decimal("60"),
    )
    small = with_voucher(basket_for(user, product), coupon.code, user)
    assert small.total_incl_tax == Decimal("50.00"), "below the minimum"
    big = with_voucher(basket_for(user, product, quantity=2), coupon.code, user)
    assert big.total_incl_tax == Decimal("95.00")


def test_free_shipping(product, django_capture_on_commit_callbacks):
    user = factories.UserFactory(email="boris@example.com")
    coupon = issue(django_capture_on_commit_callbacks, kind="free_shipping", percent=None)
    basket = with_voucher(basket_for(user, product), coupon.code, user)

    [method] = Repository().apply_shipping_offers(
        basket, [FixedPrice(charge_excl_tax=Decimal("4.00"), charge_incl_tax=Decimal("4.00"))]
    )
    assert method.calculate(basket).incl_tax == Decimal("0.00")


def test_the_voucher_ends_with_the_code(frozen, django_capture_on_commit_callbacks):
    coupon = issue(django_capture_on_commit_callbacks, validity_days=30)
    voucher = Voucher.objects.get(code=coupon.code)
    assert voucher.is_active(frozen.now + timedelta(days=29))
    assert not voucher.is_active(frozen.now + timedelta(days=30, seconds=1))


def test_the_expiry_job_ends_a_voucher_that_runs_longer(frozen, django_capture_on_commit_callbacks):
    coupon = issue(django_capture_on_commit_callbacks, validity_days=30)
    Voucher.objects.update(end_datetime=frozen.now + timedelta(days=365))  # staff edited it
    frozen.advance(timedelta(days=31))
    assert expire_coupons() == 1
    assert Voucher.objects.get(code=coupon.code).end_datetime == frozen.now


def test_mirroring_twice_makes_one_voucher(product, django_capture_on_commit_callbacks):
    from postpurchase.contrib.oscar import vouchers

    coupon = issue(django_capture_on_commit_callbacks)
    assert vouchers.mirror(coupon) == Voucher.objects.get()
