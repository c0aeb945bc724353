"""NUL bytes from the shop on PostgreSQL, which refuses them in text and in jsonb
(DATABASE_URL=postgres://...)."""

from __future__ import annotations

import pytest

from postpurchase import signals, track
from postpurchase.models import Contact, Enrollment, Event
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .adapters import FakeOrder

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def fake_adapter(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "tests.core.adapters.FakeAdapter"}


def test_an_order_with_nul_bytes_is_stored_and_enrolls():
    EmailStepFactory(flow=FlowFactory(trigger="order_placed"))
    items = [{"sku": "BP-1", "name": "Back\x00pack", "qty": 1, "price": "10"}]
    signals.order_placed.send(
        sender=FakeOrder,
        order=FakeOrder(pk=1, extra={"first_name": "An\x00na"}, lines=items),
    )
    track(
        "order_placed",
        email="bob@example.com",
        data={"order": {"number": "2\x00"}},
        order_ref="shop.order:2\x00",
        contact={"last_name": "Sm\x00ith", "timezone": "Europe/Moscow\x00"},
    )
    assert Contact.objects.get(email="anna@example.com").first_name == "Anna"
    assert Contact.objects.get(email="bob@example.com").timezone == "Europe/Moscow"
    assert Event.objects.get(order_ref="fake.order:1").snapshot["items"][0]["name"] == "Backpack"
    assert Enrollment.objects.count() == 2
