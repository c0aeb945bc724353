"""The example shop's checkout uses the built-in validation and redemption."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from example_shop.shop import views
from example_shop.shop.checkout import CouponRejected
from example_shop.shop.models import Order
from postpurchase.coupons import issue_coupon
from postpurchase.models import CouponPolicy, CouponRedemption
from postpurchase.testing.factories import ContactFactory
from tests.shop.factories import ProductFactory

pytestmark = pytest.mark.django_db

FORM = {
    "email": "anna@example.com",
    "first_name": "Anna",
    "shipping_method": "courier",
    "shipping_address": "5 Forest St., Moscow",
    "payment_method": "card",
}


@pytest.fixture
def cart(client):
    product = ProductFactory(price=Decimal("4990"))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
    return product


def test_checkout_applies_a_coupon(client, cart, policy, contact):
    coupon = issue_coupon(policy, contact)
    response = client.post(reverse("shop:checkout"), {**FORM, "coupon": coupon.code.lower()})
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert order.subtotal == Decimal("4990")
    assert order.discount == Decimal("499.00")
    assert order.total == Decimal("4990") + order.shipping_cost - Decimal("499.00")
    assert order.coupon_code == coupon.code
    redemption = CouponRedemption.objects.get()
    assert redemption.order_ref == order.number
    coupon.refresh_from_db()
    assert coupon.uses_left == 0
    page = client.get(response["Location"])
    assert f"Coupon {coupon.code}" in page.content.decode()


def test_free_shipping_coupon(client, policy, contact):
    cheap = ProductFactory(price=Decimal("990"))
    client.post(reverse("shop:cart_add", args=[cheap.pk]), {"qty": 1})
    ship = CouponPolicy.objects.create(name="Free shipping", kind="free_shipping")
    code = issue_coupon(ship, contact).code
    client.post(reverse("shop:checkout"), {**FORM, "coupon": code})
    order = Order.objects.get()
    assert order.shipping_cost == 0 and order.total == Decimal("990")


@pytest.mark.parametrize(
    ("make_code", "email", "text"),
    [
        (lambda c: "THX-NOSUCHCODE2", "anna@example.com", "does not exist"),
        (lambda c: c.code, "boris@example.com", "belongs to another customer"),
    ],
)
def test_checkout_rejects_a_bad_coupon(client, cart, policy, contact, make_code, email, text):
    code = make_code(issue_coupon(policy, contact))
    response = client.post(reverse("shop:checkout"), {**FORM, "email": email, "coupon": code})
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not Order.objects.exists()
    assert not CouponRedemption.objects.exists()


def test_a_used_coupon_is_refused_the_second_time(client, policy, contact):
    coupon = issue_coupon(policy, contact)
    for _ in range(2):
        product = ProductFactory(price=Decimal("4990"))
        client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
        response = client.post(reverse("shop:checkout"), {**FORM, "coupon": coupon.code})
    assert "already been used" in response.content.decode()
    assert Order.objects.count() == 1


def test_guessing_codes_is_rate_limited_per_client(client, cart, policy, contact):
    ContactFactory(email="anna@example.com")
    for i in range(10):
        response = client.post(reverse("shop:checkout"), {**FORM, "coupon": f"GUESS{i}"})
        assert "does not exist" in response.content.decode()
    good = issue_coupon(policy, contact).code
    response = client.post(reverse("shop:checkout"), {**FORM, "coupon": good})
    assert "Too many wrong coupon codes" in response.content.decode()
    assert not Order.objects.exists()
    # Another client is not affected.
    response = client.post(
        reverse("shop:checkout"), {**FORM, "coupon": good}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 302


def test_checkout_without_a_coupon_still_works(client, cart):
    response = client.post(reverse("shop:checkout"), FORM)
    assert response.status_code == 302
    assert Order.objects.get().discount == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_cannot_exceed_the_limit(client, settings, monkeypatch):
    """50 guesses at once from one client: at most 10 (the limit) reach the code check."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    product = ProductFactory(price=Decimal("4990"))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
    guesses = 50
    arrived = threading.Condition()
    counts = {"checked": 0, "refused": 0}
    local = threading.local()

    def slow_place_order(*args, **kwargs):
        # Hold every guess that got past the limiter until all guesses have either got
        # here or been refused, so none can finish (and be counted) before the others
        # have been let through.
        local.checked = True
        with arrived:
            counts["checked"] += 1
            arrived.notify_all()
            arrived.wait_for(lambda: counts["checked"] + counts["refused"] == guesses, 30)
        raise CouponRejected("This coupon code does not exist.", "unknown")

    monkeypatch.setattr(views, "place_order", slow_place_order)

    def guess(n):
        guesser = Client()
        guesser.cookies = client.cookies
        try:
            guesser.post(reverse("shop:checkout"), {**FORM, "coupon": f"GUESS{n}"})
        finally:
            if not getattr(local, "checked", False):
                with arrived:
                    counts["refused"] += 1
                    arrived.notify_all()
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == {"checked": 10, "refused": 40}
