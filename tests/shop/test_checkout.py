from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from example_shop.shop.cart import CartLine
from example_shop.shop.checkout import CheckoutError, Customer, place_order
from example_shop.shop.models import Order
from postpurchase.models import Contact

from .factories import ProductFactory

pytestmark = pytest.mark.django_db

FORM = {
    "email": "guest@example.com",
    "first_name": "Olga",
    "last_name": "Ivanova",
    "phone": "+7 900 123-45-67",
    "shipping_method": "courier",
    "shipping_address": "5 Forest St., Moscow",
    "payment_method": "card",
}


@pytest.fixture
def cart(client, product):
    accessory = ProductFactory(name="Rain Cover", sku="AC-COVER", price=Decimal("1490"))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
    client.post(reverse("shop:cart_add", args=[accessory.pk]), {"qty": 2})
    return [product, accessory]


def test_guest_checkout_creates_order_and_sends_order_placed_once(client, cart, inbound_signals):
    response = client.post(reverse("shop:checkout"), FORM)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert order.email == "guest@example.com"
    assert order.user is None
    assert order.status == Order.Status.NEW
    assert [(i.sku, i.qty, i.price) for i in order.items.all()] == [
        ("BP-TRK-45", 1, Decimal("4990.00")),
        ("AC-COVER", 2, Decimal("1490.00")),
    ]
    assert order.subtotal == Decimal("7970.00")
    assert order.shipping_cost == Decimal("0")  # free from 5 000
    assert order.total == Decimal("7970.00")
    assert order.locale == "en"
    assert order.delivery_estimate is not None

    assert inbound_signals.names() == ["order_placed"]
    sent = inbound_signals.only("order_placed")
    assert sent["sender"] is Order
    assert sent["order"] == order

    assert client.session["cart"] == {}
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert order.number in page.text


def test_logged_in_checkout_links_the_user(client, customer, product):
    client.force_login(customer)
    client.post(reverse("shop:cart_add", args=[product.pk]))
    form = client.get(reverse("shop:checkout")).context["form"]
    assert form.initial["email"] == "anna@example.com"

    client.post(reverse("shop:checkout"), {**FORM, "email": "anna@example.com"})
    assert Order.objects.get().user == customer
    # ... and the shop's adapter links her contact to her account (Contact.user).
    assert Contact.objects.get(email="anna@example.com").user == customer


def test_order_locale_follows_the_active_language(client, cart):
    client.cookies["django_language"] = "uk"
    client.post(reverse("shop:checkout"), FORM)
    assert Order.objects.get().locale == "uk"


def test_invalid_checkout_keeps_input_and_creates_nothing(client, cart, inbound_signals):
    data = {**FORM, "shipping_address": "", "email": "not-an-email"}
    response = client.post(reverse("shop:checkout"), data)

    assert response.status_code == 200
    assert "Please enter a delivery address." in response.text
    assert "Enter a valid email address." in response.text
    assert 'value="Olga"' in response.text  # what the customer typed is still there
    assert not Order.objects.exists()
    assert inbound_signals.calls == []
    assert len(client.session["cart"]) == 2


def test_pickup_needs_no_address_and_costs_nothing(client, product):
    client.post(reverse("shop:cart_add", args=[product.pk]))
    client.post(
        reverse("shop:checkout"), {**FORM, "shipping_method": "pickup", "shipping_address": ""}
    )
    order = Order.objects.get()
    assert order.shipping_cost == 0
    assert order.total == Decimal("4990.00")


def test_small_courier_order_pays_for_shipping(client, product):
    cheap = ProductFactory(price=Decimal("990"))
    client.post(reverse("shop:cart_add", args=[cheap.pk]))
    client.post(reverse("shop:checkout"), FORM)
    assert Order.objects.get().total == Decimal("1340.00")


def test_product_gone_during_checkout_shows_error(client, cart, inbound_signals):
    lines = [CartLine(p, 1) for p in cart]
    cart[0].is_active = False
    cart[0].save()
    with pytest.raises(CheckoutError, match="Trekker 45 L"):
        place_order(lines, Customer(email="a@example.com", first_name="A"))
    assert not Order.objects.exists()
    assert inbound_signals.calls == []


def test_empty_cart_redirects_to_cart(client):
    response = client.get(reverse("shop:checkout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:cart")


def test_order_page_needs_the_key_from_another_browser(client, cart):
    client.post(reverse("shop:checkout"), FORM)
    order = Order.objects.get()
    stranger = Client()
    assert stranger.get(order.get_absolute_url()).status_code == 403
    assert stranger.get(order.get_absolute_url() + "?key=wrong").status_code == 403
    assert stranger.get(order.shareable_url()).status_code == 200


def test_placed_order_sends_the_thank_you_email(
    client, cart, default_flow, django_capture_on_commit_callbacks
):
    """End to end with the real app: order_placed -> enrollment -> thank-you email."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("shop:checkout"), FORM)
    order = Order.objects.get()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["Olga Ivanova <guest@example.com>"]
    assert order.number in mail.outbox[0].body


@pytest.mark.parametrize("ticked", [True, False])
def test_the_marketing_box_is_recorded_as_consent_with_its_wording(client, cart, ticked):
    from example_shop.shop.models import MARKETING_WORDING
    from postpurchase.models import ConsentRecord

    form = {**FORM, "marketing_opt_in": "on"} if ticked else FORM
    assert client.post(reverse("shop:checkout"), form).status_code == 302
    assert Order.objects.get().marketing_opt_in is ticked
    [record] = ConsentRecord.objects.filter(contact__email="guest@example.com")
    if ticked:
        assert (record.state, record.source, record.wording) == (
            "granted",
            "checkout",
            MARKETING_WORDING,
        )
    else:  # not asked for more: the order is a soft opt-in
        assert (record.state, record.wording) == ("soft_opt_in", "")
