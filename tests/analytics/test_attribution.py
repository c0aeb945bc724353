"""Orders and goal events after a human click (or open) of a flow email are that
email's conversions: inside the window only, last touch wins, once per order."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from postpurchase import signals, track
from postpurchase.analytics import attribution
from postpurchase.analytics.attribution import order_revenue
from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.models import Conversion, Event
from postpurchase.testing.factories import ContactFactory, order_snapshot

from .helpers import click_event, email, quiet_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(frozen, django_capture_on_commit_callbacks):
    """Place an order for ``contact`` now (as the shop's checkout does), running what
    happens after the commit; returns the Event."""

    def place(contact, ref="shop.order:1", total="1990.00", currency="RUB", **extra):
        snapshot = order_snapshot(email=contact.email, total=total, currency=currency, **extra)
        with django_capture_on_commit_callbacks(execute=True):
            return track(
                "order_placed", email=contact.email, order_ref=ref, data={"order": snapshot}
            )

    return place


@pytest.fixture
def contact():
    return ContactFactory()


def test_an_order_within_five_days_of_a_human_click_is_a_conversion_with_its_revenue(
    frozen, order, contact
):
    message = email(contact=contact, clicked_at=frozen.now - timedelta(days=4, hours=23), clicks=1)
    event = order(contact, total="4290.50", currency="RUB")
    (conversion,) = Conversion.objects.all()
    assert conversion.kind == Conversion.Kind.ORDER
    assert conversion.message == message
    assert conversion.step_id == message.step_id
    assert conversion.flow_id == message.enrollment.flow_id
    assert conversion.event == event
    assert conversion.order_ref == "shop.order:1"
    assert conversion.touch == Conversion.Touch.CLICK
    assert conversion.revenue == Decimal("4290.50")
    assert conversion.currency == "RUB"


def test_an_order_after_the_window_or_before_the_click_is_not(frozen, order, contact):
    email(contact=contact, clicked_at=frozen.now - timedelta(days=5, minutes=1))
    email(contact=contact, clicked_at=frozen.now + timedelta(minutes=1))  # clicked later
    order(contact)
    assert not Conversion.objects.exists()


def test_another_contacts_click_does_not_count(frozen, order, contact):
    email(clicked_at=frozen.now - timedelta(hours=1))
    order(contact)
    assert not Conversion.objects.exists()


def test_the_click_window_is_a_setting(frozen, order, contact, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTRIBUTION_CLICK_DAYS": 1}
    email(contact=contact, clicked_at=frozen.now - timedelta(days=2))
    order(contact)
    assert not Conversion.objects.exists()


def test_the_last_click_wins_across_flows(frozen, order, contact):
    email(contact=contact, clicked_at=frozen.now - timedelta(days=3))
    last = email(contact=contact, clicked_at=frozen.now - timedelta(hours=2))
    email(contact=contact, clicked_at=frozen.now - timedelta(days=1))
    order(contact)
    assert Conversion.objects.get().message == last


def test_a_later_click_of_an_older_email_wins_while_its_events_are_kept(frozen, order, contact):
    first = email(contact=contact, clicked_at=frozen.now - timedelta(days=3))
    second = email(contact=contact, clicked_at=frozen.now - timedelta(days=2))
    click_event(first, frozen.now - timedelta(hours=1))
    order(contact)
    assert Conversion.objects.get().message == first
    assert second.conversions.count() == 0


def test_a_machine_click_is_no_touch(frozen, order, contact):
    first = email(contact=contact, clicked_at=frozen.now - timedelta(days=3))
    second = email(contact=contact, clicked_at=frozen.now - timedelta(days=2))
    click_event(first, frozen.now - timedelta(hours=1), machine=True)
    order(contact)
    assert Conversion.objects.get().message == second


def test_an_order_counts_once_however_often_it_is_signalled(frozen, order, contact):
    received = []
    signals.conversion_recorded.connect(
        lambda sender, conversion, **kw: received.append(conversion), weak=False, dispatch_uid="t"
    )
    try:
        email(contact=contact, clicked_at=frozen.now - timedelta(hours=3))
        order(contact, ref="shop.order:7")
        email(contact=contact, clicked_at=frozen.now - timedelta(hours=1))
        order(contact, ref="shop.order:7")  # the shop sent order_placed again
    finally:
        signals.conversion_recorded.disconnect(dispatch_uid="t")
    assert Conversion.objects.count() == 1
    assert [c.order_ref for c in received] == ["shop.order:7"]
    assert Event.objects.filter(name="order_placed").count() == 2


def test_each_order_is_its_own_conversion(frozen, order, contact):
    email(contact=contact, clicked_at=frozen.now - timedelta(hours=3))
    order(contact, ref="shop.order:1")
    order(contact, ref="shop.order:2", total="10.00", currency="EUR")
    assert sorted(Conversion.objects.values_list("order_ref", "currency")) == [
        ("shop.order:1", "RUB"),
        ("shop.order:2", "EUR"),
    ]


def test_the_open_window_is_off_by_default(frozen, order, contact):
    assert get_setting("ATTRIBUTION_OPEN_DAYS") == 0
    email(contact=contact, opened_at=frozen.now - timedelta(hours=1), opens=1)
    order(contact)
    assert not Conversion.objects.exists()


def test_an_open_counts_within_its_window_when_on(frozen, order, contact, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTRIBUTION_OPEN_DAYS": 1}
    clicked = email(contact=contact, clicked_at=frozen.now - timedelta(days=2))
    opened = email(contact=contact, opened_at=frozen.now - timedelta(hours=5))
    email(contact=contact, opened_at=frozen.now - timedelta(days=1, hours=1))  # too old
    order(contact)
    conversion = Conversion.objects.get()
    assert conversion.message == opened
    assert conversion.touch == Conversion.Touch.OPEN
    assert clicked.conversions.count() == 0


def test_clicks_can_be_switched_off(frozen, order, contact, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTRIBUTION_CLICK_DAYS": 0}
    email(contact=contact, clicked_at=frozen.now - timedelta(hours=1))
    order(contact)
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("value", [-1, True, "5", 400, float("nan")])
def test_a_bad_window_is_refused(settings, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTRIBUTION_OPEN_DAYS": value}
    with pytest.raises(PostpurchaseConfigurationError, match="ATTRIBUTION_OPEN_DAYS"):
        get_setting("ATTRIBUTION_OPEN_DAYS")


def test_a_goal_event_is_a_goal_conversion_of_the_flow_whose_goal_it_is(
    frozen, contact, django_capture_on_commit_callbacks
):
    reviews = quiet_flow(goal_event="review_submitted")
    other = quiet_flow()
    goal_email = email(reviews, contact=contact, clicked_at=frozen.now - timedelta(days=1))
    email(other, contact=contact, clicked_at=frozen.now - timedelta(hours=1))  # later, not ours
    with django_capture_on_commit_callbacks(execute=True):
        track("review_submitted", email=contact.email, order_ref="shop.order:3")
        track("review_submitted", email=contact.email, order_ref="shop.order:3")
    conversion = Conversion.objects.get()
    assert conversion.kind == Conversion.Kind.GOAL
    assert conversion.flow == reviews
    assert conversion.message == goal_email
    assert conversion.revenue is None


def test_a_goal_without_a_click_in_the_window_is_not(
    frozen, contact, django_capture_on_commit_callbacks
):
    reviews = quiet_flow(goal_event="review_submitted")
    email(reviews, contact=contact, clicked_at=frozen.now - timedelta(days=6))
    with django_capture_on_commit_callbacks(execute=True):
        track("review_submitted", email=contact.email)
    assert not Conversion.objects.exists()


def test_a_failure_is_logged_and_the_order_is_still_recorded(
    frozen, order, contact, monkeypatch, caplog
):
    email(contact=contact, clicked_at=frozen.now - timedelta(hours=1))

    def broken(event):
        raise RuntimeError("database went away")

    monkeypatch.setattr(attribution, "attribute", broken)
    with caplog.at_level(logging.ERROR, logger="postpurchase.analytics"):
        event = order(contact)
    assert Event.objects.filter(pk=event.pk).exists()
    assert not Conversion.objects.exists()
    assert f"attributing event {event.pk} failed" in caplog.text


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ({"total": "4290.00", "currency": "rub"}, (Decimal("4290.00"), "RUB")),
        ({"total": 12, "currency": "EUR"}, (Decimal("12"), "EUR")),
        ({"currency": "EUR"}, (None, "EUR")),
        ({"total": "on request", "currency": "EUR"}, (None, "EUR")),
        ({"total": "NaN"}, (None, "")),
        ({"total": "1e30", "currency": 5}, (None, "")),
        ({"total": True}, (None, "")),
    ],
)
def test_order_revenue_reads_the_snapshots_total(snapshot, expected):
    assert order_revenue(snapshot) == expected


def test_an_order_without_a_total_still_converts(
    frozen, contact, django_capture_on_commit_callbacks
):
    email(contact=contact, clicked_at=frozen.now - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        track("order_placed", email=contact.email)
    conversion = Conversion.objects.get()
    assert conversion.revenue is None
    assert conversion.key == f"event:{conversion.event_id}"


def test_a_click_reported_after_the_order_is_attributed_by_the_periodic_job(frozen, order, contact):
    event = order(contact)
    assert not Conversion.objects.exists()
    # The ESP posts the click (made before the order) a minute later.
    message = email(contact=contact, clicked_at=frozen.now - timedelta(minutes=3))
    frozen.advance(timedelta(minutes=1))
    assert attribution.attribute_late_touches() == 1
    conversion = Conversion.objects.get()
    assert conversion.event == event and conversion.message == message
    assert attribution.attribute_late_touches() == 0  # idempotent


def test_the_periodic_job_leaves_old_orders_alone(frozen, order, contact):
    order(contact)
    email(contact=contact, clicked_at=frozen.now - timedelta(minutes=3))
    frozen.advance(timedelta(hours=attribution.LATE_TOUCH_HOURS, minutes=1))
    assert attribution.attribute_late_touches() == 0
    assert not Conversion.objects.exists()


def test_the_periodic_job_reaches_orders_past_its_batch(frozen, order, contact, monkeypatch):
    """More unattributed orders in the window than one batch (most orders follow no
    email): the late click of a later order is still attributed, not starved by the
    oldest batch read again on every pass."""
    monkeypatch.setattr(attribution, "LATE_TOUCH_BATCH", 2)
    for n in range(3):
        other = ContactFactory()
        email(contact=other, clicked_at=frozen.now - timedelta(days=30))  # long before
        order(other, ref=f"shop.order:other{n}")
    event = order(contact)
    message = email(contact=contact, clicked_at=frozen.now - timedelta(minutes=3))
    frozen.advance(timedelta(minutes=1))
    assert attribution.attribute_late_touches() == 1
    conversion = Conversion.objects.get()
    assert conversion.event == event and conversion.message == message
