"""The inbound signals a shop sends."""

from __future__ import annotations

import pytest
from django.db import transaction

from postpurchase import signals
from postpurchase.exceptions import AdapterError, InvalidEventError
from postpurchase.models import Contact, Enrollment, Event
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .adapters import FakeOrder

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fake_adapter(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "tests.core.adapters.FakeAdapter"}


@pytest.mark.parametrize("name", list(signals.ORDER_SIGNALS))
def test_every_order_signal_records_its_event(name):
    signals.ORDER_SIGNALS[name].send(sender=FakeOrder, order=FakeOrder(pk=5), data={"x": 1})
    event = Event.objects.get()
    assert (event.name, event.ref, event.order_ref) == (name, "fake.order:5", "fake.order:5")
    assert event.data["x"] == 1
    assert event.snapshot["number"] == "5"


def test_order_placed_enrolls_in_live_flow(django_capture_on_commit_callbacks):
    EmailStepFactory(flow=FlowFactory(trigger="order_placed"))
    with django_capture_on_commit_callbacks(execute=True):
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))
    enrollment = Enrollment.objects.get()
    assert enrollment.order_ref == "fake.order:1"
    assert enrollment.messages.get().status == "sent"


def test_cancel_signal_exits_that_orders_enrollment(django_capture_on_commit_callbacks):
    EmailStepFactory(flow=FlowFactory(trigger="order_placed"), position=2)
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=2))
    signals.order_cancelled.send(sender=FakeOrder, order=FakeOrder(pk=1))
    statuses = dict(Enrollment.objects.values_list("order_ref", "status"))
    assert statuses == {"fake.order:1": "exited", "fake.order:2": "active"}


def test_review_signal_links_the_order():
    signals.review_submitted.send(
        sender=dict, review={"id": 3, "email": "bob@example.com", "order": 9}
    )
    event = Event.objects.get()
    assert (event.name, event.ref, event.order_ref) == (
        "review_submitted",
        "fake.review:3",
        "fake.order:9",
    )
    assert Contact.objects.get().email == "bob@example.com"


def test_signal_without_order_is_a_clear_error():
    with pytest.raises(InvalidEventError, match="order=<the order>"):
        signals.order_placed.send(sender=FakeOrder)


def test_bad_adapter_output_is_a_clear_error(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.core.adapters.BrokenAdapter",
    }
    with pytest.raises(AdapterError, match="no valid 'email'"):
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))


def test_with_signal_errors_logged_the_shops_transaction_survives(settings, caplog):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.core.adapters.BrokenAdapter",
        "SIGNAL_ERRORS": "log",
    }
    with transaction.atomic():
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1))
        # The shop's own writes in the same transaction still work.
        Contact.objects.create(email="still-works@example.com")
    assert Contact.objects.filter(email="still-works@example.com").exists()
    assert Event.objects.count() == 0
    assert "handling order_placed failed" in caplog.text
