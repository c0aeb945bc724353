"""D2: a review request waits until the order's products can be judged (``ready_after``,
e.g. a tent bought in winter waits for the camping season)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from example_shop.shop.adapter import ShopAdapter, ready_after
from postpurchase import track
from postpurchase.models import DelayStep, Message
from postpurchase.models.steps import latest_ready_after
from postpurchase.testing.factories import order_snapshot
from tests.core.helpers import run_clock
from tests.recipes.helpers import live
from tests.shop.factories import CategoryFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_latest_ready_after():
    items = [
        {"sku": "A", "ready_after": "2027-03-01"},
        {"sku": "B", "ready_after": "2027-05-01T12:00:00+00:00"},
        {"sku": "C", "ready_after": "next spring"},
        {"sku": "D", "ready_after": ""},
        {"sku": "E"},
    ]
    assert latest_ready_after({"items": items}) == date(2027, 5, 1)
    assert latest_ready_after({"items": [{"sku": "E"}]}) is None
    assert latest_ready_after({}) is None
    assert latest_ready_after({"items": "oops"}) is None


def place(event: str, ready: list[str], *, timezone: str = "", number: str = "1001"):
    order = order_snapshot(email="anna@example.com", number=number, items=len(ready))
    for item, day in zip(order["items"], ready, strict=True):
        if day:
            item["ready_after"] = day
    return track(
        event,
        email="anna@example.com",
        data={"order": order},
        order_ref=f"shop.order:{number}",
        contact={"first_name": "Anna", "locale": "en", "timezone": timezone},
    )


def review_requests():
    return list(
        Message.objects.filter(status="sent", step__emailstep__template__slug__startswith="review")
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )


def test_the_series_review_request_waits_for_the_season_start_in_the_contacts_zone(frozen):
    live("post-purchase-series")
    place("order_placed", ["2027-05-01", "", "2027-03-15"], timezone="Europe/Moscow")
    run_clock(frozen, days=200)
    # Midnight of May 1 in Moscow (UTC+3), not 7 days after the order.
    assert review_requests() == [datetime(2027, 4, 30, 21, 0, tzinfo=UTC)]


def test_without_a_time_zone_the_day_starts_in_utc(frozen):
    live("post-purchase-series")
    place("order_placed", ["2027-05-01"])
    run_clock(frozen, days=200)
    assert review_requests() == [datetime(2027, 5, 1, 0, 0, tzinfo=UTC)]


def test_after_delivery_the_send_window_still_applies(frozen):
    live("review-after-delivery")
    place("order_delivered", ["2027-05-01"], timezone="Europe/Moscow")
    run_clock(frozen, days=200)
    # The recipe's 9:00-21:00 window, local time: 9:00 Moscow = 6:00 UTC.
    assert review_requests() == [datetime(2027, 5, 1, 6, 0, tzinfo=UTC)]


@pytest.mark.parametrize("ready", [[""], ["2026-11-25"]])
def test_no_date_or_an_early_one_keeps_the_7_days(frozen, ready):
    start = frozen.now
    live("post-purchase-series")
    place("order_placed", ready)
    run_clock(frozen, days=30)
    assert review_requests() == [start + timedelta(days=7)]


def test_a_delay_without_the_flag_ignores_readiness(frozen):
    start = frozen.now
    flow = live("post-purchase-series")
    DelayStep.objects.filter(flow=flow).update(wait_for_readiness=False)
    place("order_placed", ["2027-05-01"])
    run_clock(frozen, days=30)
    assert review_requests() == [start + timedelta(days=7)]


def test_both_review_recipes_wait_for_readiness(db):
    for slug in ("post-purchase-series", "review-after-delivery"):
        flow = live(slug)
        delays = list(DelayStep.objects.filter(flow=flow).order_by("position"))
        assert delays[-1].wait_for_readiness, slug
        if slug == "post-purchase-series":
            assert not delays[0].wait_for_readiness  # the coupon email is not held back


def test_the_shop_holds_tents_back_until_the_camping_season():
    assert ready_after("Tents", date(2026, 11, 23)) == "2027-05-01"
    assert ready_after("Tents", date(2027, 2, 1)) == "2027-05-01"
    assert ready_after("Tents", date(2027, 6, 10)) == ""
    assert ready_after("Backpacks", date(2026, 11, 23)) == ""

    tents = CategoryFactory(name="Tents", slug="tents")
    order = OrderFactory(created_at=datetime(2026, 11, 23, 10, tzinfo=UTC))
    OrderItemFactory(order=order, product=ProductFactory(category=tents, sku="TN-DOME-2"))
    OrderItemFactory(order=order, product=ProductFactory(sku="BP-TRK-45"))
    items = {i["sku"]: i for i in ShopAdapter().order_snapshot(order)["items"]}
    assert items["TN-DOME-2"]["ready_after"] == "2027-05-01"
    assert "ready_after" not in items["BP-TRK-45"]
