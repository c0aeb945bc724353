"""The recipes fed by the example shop's real events and adapter: product pages and the
cart send what the abandonment emails show; the adapter supplies tips and referral links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from example_shop.shop.orders import set_status
from postpurchase.models import Enrollment
from postpurchase.testing.factories import ContactFactory
from tests.core.helpers import run_clock
from tests.shop.factories import (
    CategoryFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

from .helpers import live, sent

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(
        name="Trekker 45 L",
        slug="trekker-45",
        sku="BP-TRK-45",
        image_url="/static/img/trekker.jpg",
        category=CategoryFactory(name="Backpacks", slug="backpacks"),
    )


@pytest.fixture
def customer():
    # Has bought before (soft opt-in to marketing email), as a contact from an order has.
    ContactFactory(email="anna@example.com")
    return UserFactory(username="anna", email="anna@example.com", first_name="Anna")


def test_a_product_view_in_the_shop_becomes_a_browse_reminder(client, frozen, product, customer):
    start = frozen.now
    live("browse-abandonment")
    client.force_login(customer)
    client.get(product.get_absolute_url())
    run_clock(frozen)
    assert [(offset, subject) for offset, _, subject in sent(start)] == [
        (timedelta(minutes=20), "Anna, still thinking about Trekker 45 L?"),
        (timedelta(hours=24), "Anna, need a hand choosing?"),
    ]
    html = mail.outbox[0].alternatives[0][0]
    assert "/p/trekker-45/" in html and "/static/img/trekker.jpg" in html


def test_adding_to_the_cart_swaps_browse_for_cart_abandonment(client, frozen, product, customer):
    start = frozen.now
    live("browse-abandonment")
    live("cart-abandonment")
    client.force_login(customer)
    client.get(product.get_absolute_url())
    frozen.advance(timedelta(minutes=5))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 2})
    run_clock(frozen)
    browse = Enrollment.objects.get(flow__slug="browse-abandonment")
    assert browse.exit_reason == "event:cart_updated"
    subjects = [subject for _, _, subject in sent(start)]
    assert subjects == [
        "Anna, you left something in your cart",
        "Anna, shall we finish your order together?",
    ]
    html = mail.outbox[0].alternatives[0][0]
    assert "Trekker 45 L" in html and "/cart/" in html


def test_checkout_ends_cart_abandonment(client, frozen, product, customer):
    live("cart-abandonment")
    client.force_login(customer)
    client.post(reverse("shop:cart_add", args=[product.pk]))
    frozen.advance(timedelta(minutes=10))
    response = client.post(
        reverse("shop:checkout"),
        {
            "email": "anna@example.com",
            "first_name": "Anna",
            "last_name": "Petrova",
            "phone": "+7 900 000-00-00",
            "shipping_address": "5 Forest St., Moscow",
            "shipping_method": "courier",
            "payment_method": "card",
            "locale": "en",
        },
    )
    assert response.status_code == 302, response.content[:500]
    run_clock(frozen)
    enrollment = Enrollment.objects.get(flow__slug="cart-abandonment")
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason in ("event:order_placed", "event:cart_emptied")
    assert mail.outbox == []


def test_delivery_in_the_shop_sends_its_tips_and_referral_link(frozen, product):
    start = frozen.now
    live("usage-tips")
    live("referral-invite")
    order = OrderFactory(email="olena@example.com", first_name="Олена", locale="uk")
    OrderItemFactory(order=order, product=product)
    set_status(order, "delivered")
    run_clock(frozen)
    assert [(offset, subject) for offset, _, subject in sent(start)] == [
        (timedelta(days=3), "Олена, кілька порад до вашої нової покупки"),
        (timedelta(days=21), "Олена, а кому з друзів ми теж сподобаємося?"),
    ]
    tips, referral = (m.body for m in mail.outbox)
    assert "спершу затягніть поясний ремінь" in tips
    assert "?ref=" in referral
