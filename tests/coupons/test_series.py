"""D1: the shipped series' email 2 carries a personal code the example shop accepts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from example_shop.shop.models import Order
from postpurchase.coupons import CODE_ALPHABET
from postpurchase.models import Coupon
from tests.core.helpers import place, run_clock
from tests.shop.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_email_2_of_the_series_carries_a_code(default_flow, frozen):
    place(email="anna@example.com", number="1001")
    place(email="boris@example.com", number="1002", locale="ru", first_name="Борис")
    run_clock(frozen, days=3)

    coupons = {c.contact.email: c for c in Coupon.objects.select_related("contact")}
    assert set(coupons) == {"anna@example.com", "boris@example.com"}
    assert coupons["anna@example.com"].code != coupons["boris@example.com"].code
    for coupon in coupons.values():
        assert re.fullmatch(rf"BACK-[{CODE_ALPHABET}]{{12}}", coupon.code)
    by_address = {m.to[0].split("<")[-1].rstrip(">"): m for m in mail.outbox[2:]}
    assert coupons["anna@example.com"].code in by_address["anna@example.com"].body
    html_ru = by_address["boris@example.com"].alternatives[0][0]
    assert coupons["boris@example.com"].code in html_ru
    assert "Подарок к следующему заказу" in html_ru


def test_the_code_from_email_2_works_at_the_shops_checkout(client, default_flow, frozen):
    place(email="anna@example.com", number="1001")
    run_clock(frozen, days=3)
    code = Coupon.objects.get().code

    product = ProductFactory(price=Decimal("4990"))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
    response = client.post(
        reverse("shop:checkout"),
        {
            "email": "anna@example.com",
            "first_name": "Anna",
            "shipping_method": "pickup",
            "payment_method": "card",
            "coupon": code,
        },
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.discount == Decimal("499.00") and order.total == Decimal("4491.00")
    assert Coupon.objects.get().uses_left == 0
