"""Orders placed through Oscar's OrderCreator get the post-purchase series; Oscar's
status changes and reviews reach the flows."""

from __future__ import annotations

import pytest
from django.core import mail
from oscar.test import factories

from postpurchase.contrib.oscar.adapter import OscarAdapter
from postpurchase.models import Enrollment, Event, Message

from .conftest import basket_for, place_order, run_clock

pytestmark = pytest.mark.django_db


def test_a_guest_order_gets_the_thank_you(
    series, product, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product, quantity=2), guest_email="anna@example.com")

    assert len(mail.outbox) == 1, "the thank-you, and no other email"
    thanks = mail.outbox[0]
    assert thanks.to == [
        f"{order.shipping_address.first_name} {order.shipping_address.last_name} <anna@example.com>"
    ]
    assert str(order.number) in thanks.subject
    snapshot = Enrollment.objects.get().snapshot
    assert snapshot["email"] == "anna@example.com"
    assert snapshot["currency"] == order.currency
    assert snapshot["total"] == "100.00" and snapshot["subtotal"] == "100.00"
    [item] = snapshot["items"]
    assert (item["name"], item["qty"], item["price"], item["total"]) == (
        "Trail backpack",
        2,
        "50.00",
        "100.00",
    )
    assert item["url"] == f"https://shop.example.com{product.get_absolute_url()}"
    assert item["review_url"] == (
        f"https://shop.example.com/catalogue/{product.slug}_{product.pk}/reviews/add/"
    )
    # A guest's order page is Oscar's anonymous-order page, signed with the order number.
    assert snapshot["order_url"] == (
        f"https://shop.example.com/accounts/order-status/{order.number}/"
        f"{order.verification_hash()}/"
    )
    assert order.shipping_address.line1 in snapshot["shipping_address"]
    assert snapshot["order_url"] in thanks.body


def test_a_customer_order_uses_the_account(
    series, product, frozen, django_capture_on_commit_callbacks
):
    user = factories.UserFactory(email="boris@example.com", first_name="Boris")
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(user, product), user)

    assert mail.outbox[0].to == [f"Boris {user.last_name} <boris@example.com>"]
    snapshot = Enrollment.objects.get().snapshot
    assert snapshot["order_url"] == f"https://shop.example.com/accounts/orders/{order.number}/"
    assert Enrollment.objects.get().order_ref == f"oscar.order:{order.pk}"


def test_a_cancelled_order_stops_its_series(
    series, product, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = place_order(basket_for(product=product), guest_email="anna@example.com")
        kept = place_order(basket_for(product=product), guest_email="anna@example.com")

    cancelled.set_status("Cancelled")  # Oscar's dashboard does this
    run_clock(frozen)

    stopped = Enrollment.objects.get(order_ref=f"oscar.order:{cancelled.pk}")
    assert stopped.status == Enrollment.Status.EXITED
    assert stopped.exit_reason == "event:order_cancelled"
    assert stopped.messages.count() == 1  # the thank-you only
    other = Enrollment.objects.get(order_ref=f"oscar.order:{kept.pk}")
    assert other.status == Enrollment.Status.COMPLETED
    assert other.messages.filter(status=Message.Status.SENT).count() == 3


def test_status_changes_follow_the_status_map(product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product), guest_email="anna@example.com")
    order.set_status("Paid")
    order.set_status("Shipped")
    assert list(Event.objects.order_by("pk").values_list("name", "data__previous_status")) == [
        ("order_placed", None),
        ("order_paid", "Pending"),
        ("order_shipped", "Paid"),
    ]


def test_an_unmapped_status_sends_nothing(settings, product, django_capture_on_commit_callbacks):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "OSCAR_ORDER_STATUSES": {}}
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product), guest_email="anna@example.com")
    order.set_status("Cancelled")
    assert list(Event.objects.values_list("name", flat=True)) == ["order_placed"]


def test_an_adapter_bug_never_fails_the_placed_order(
    series, product, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Oscar sends order_placed after its transaction: the order is placed (and paid)
    whatever happens next, so even SIGNAL_ERRORS="raise" must not make it an error."""

    def broken(self, order):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(OscarAdapter, "order_snapshot", broken)
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product), guest_email="anna@example.com")

    assert order.pk is not None
    assert not Event.objects.exists() and not mail.outbox
    [record] = [r for r in caplog.records if r.name == "postpurchase.contrib.oscar"]
    assert f"Order {order.pk}" in record.getMessage()
    assert "anna@example.com" not in record.getMessage()
    caplog.clear()  # expected: the autouse fixture fails tests on logged errors


def test_a_review_reaches_the_flows_with_its_order(product, django_capture_on_commit_callbacks):
    user = factories.UserFactory(email="boris@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(user, product), user)
    review = factories.ProductReviewFactory(product=product, user=user, score=5, body="Great")

    # What Oscar's CreateProductReview view sends once the review is saved.
    from oscar.apps.catalogue.reviews.signals import review_added

    review_added.send(sender=None, review=review, user=user, request=None, response=None)

    event = Event.objects.get(name="review_submitted")
    assert event.order_ref == f"oscar.order:{order.pk}"
    assert event.data["review"]["rating"] == 5
    assert event.data["review"]["product"]["name"] == "Trail backpack"
