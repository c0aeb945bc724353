"""The embedded default (EXECUTION="inline"): the customer's checkout never waits for
the ESP; the thank-you leaves from a background thread moments later."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from postpurchase.engine.dispatch import background
from postpurchase.models import Message
from tests.shop.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "email": "guest@example.com",
    "first_name": "Olga",
    "last_name": "Ivanova",
    "shipping_method": "courier",
    "shipping_address": "5 Forest St., Moscow",
    "payment_method": "card",
}


def test_the_checkout_returns_before_the_esp_answers(postmark, settings, default_flow):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "EXECUTION": "inline"}
    answer = threading.Event()
    asked = threading.Event()
    events: list[str] = []

    def slow_esp(payload):
        asked.set()
        answer.wait(10)  # the ESP hangs until the checkout has returned
        events.append("esp answered")

    postmark.on_receive = slow_esp
    client = Client()
    product = ProductFactory(price=Decimal("4990"))
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 1})
    try:
        response = client.post(reverse("shop:checkout"), FORM)
        events.append("checkout returned")
        assert response.status_code == 302
        assert not Message.objects.filter(status="sent").exists()
        assert asked.wait(10), "the thank-you never reached the ESP"
    finally:
        answer.set()
    # Had the checkout waited for the ESP, the ESP would have answered first (timed out).
    assert background().wait_idle(10)
    assert events == ["checkout returned", "esp answered"]
    message = Message.objects.get()
    assert message.status == "sent" and message.to_email == "guest@example.com"
    assert len(postmark.message_ids()) == 1
