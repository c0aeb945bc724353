"""Replenishment: the predicted date from a configured cycle (scaled by quantity), from
learned intervals (trusted only with enough observations; the category's otherwise),
kept current by new orders and the job, and the replenishment_due finder."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from postpurchase import replenishment, signals, track
from postpurchase.adapters import DefaultAdapter, _load
from postpurchase.models import Contact, CycleSource, LearnedCycle, PurchasedProduct
from postpurchase.replenishment import predict
from postpurchase.testing.factories import order_placed_event, order_snapshot, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def few_observations(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "REPLENISHMENT_MIN_OBSERVATIONS": 3}


def place(email, items, capture):
    """An order through track(), its after-commit work run as on a real commit."""
    with capture(execute=True):
        return track("order_placed", email=email, data={"order": order_snapshot(items)})


def prediction(email, sku="LENS"):
    return PurchasedProduct.objects.get(contact__email=email, sku=sku)


def repurchases(sku, category, every_days, customers, frozen):
    """``customers`` contacts who each bought ``sku`` twice, ``every_days`` apart."""
    for n in range(customers):
        email = f"{sku.lower()}{n}@example.com"
        first = frozen.now - timedelta(days=200)
        order_placed_event(email, [product(sku, category)], occurred_at=first)
        order_placed_event(
            email, [product(sku, category)], occurred_at=first + timedelta(days=every_days)
        )
        replenishment.update_contact(Contact.objects.get(email=email).pk)


def test_a_configured_cycle_is_scaled_by_quantity(frozen, django_capture_on_commit_callbacks):
    announced = []
    signals.replenishment_predicted.connect(
        lambda sender, prediction, **kw: announced.append(prediction), weak=False, dispatch_uid="t"
    )
    try:
        place(
            "anna@example.com",
            [product("LENS", "Lenses", qty=2, replenish_days=30)],
            django_capture_on_commit_callbacks,
        )
    finally:
        signals.replenishment_predicted.disconnect(dispatch_uid="t")
    row = prediction("anna@example.com")
    assert (row.days_per_unit, row.cycle_source, row.last_quantity) == (
        30,
        CycleSource.CONFIGURED,
        2,
    )
    assert row.predicted_on == (frozen.now + timedelta(days=60)).date()
    assert [p.pk for p in announced] == [row.pk]


def test_the_category_setting_when_the_product_does_not_say(
    frozen, settings, django_capture_on_commit_callbacks
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "REPLENISHMENT_CATEGORY_DAYS": {"Lenses": 14}}
    place(
        "anna@example.com",
        [product("LENS", "Lenses", qty=3), product("CASE", "Cases")],
        django_capture_on_commit_callbacks,
    )
    assert prediction("anna@example.com").predicted_on == (frozen.now + timedelta(days=42)).date()
    assert prediction("anna@example.com").cycle_source == CycleSource.CATEGORY_SETTING
    case = prediction("anna@example.com", "CASE")
    assert (case.predicted_on, case.cycle_source) == (None, CycleSource.NONE)


def test_a_bad_configured_value_or_a_failing_adapter_is_not_a_cycle(
    frozen, settings, caplog, django_capture_on_commit_callbacks
):
    place(
        "anna@example.com",
        [product("LENS", replenish_days="soon")],
        django_capture_on_commit_callbacks,
    )
    assert prediction("anna@example.com").predicted_on is None
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.replenishment.test_replenishment.BrokenAdapter",
    }
    _load.cache_clear()
    try:
        with caplog.at_level(logging.ERROR, "postpurchase.replenishment"):
            place(
                "anna@example.com",
                [product("LENS", replenish_days=30)],
                django_capture_on_commit_callbacks,
            )
    finally:
        _load.cache_clear()
    assert prediction("anna@example.com").predicted_on is None
    assert "replenish_days() raised for contact" in caplog.text
    assert "anna" not in caplog.text


class BrokenAdapter(DefaultAdapter):
    def replenish_days(self, item, snapshot):
        raise RuntimeError("catalogue down")


def test_learned_from_repurchases_only_with_enough_observations(frozen, few_observations):
    repurchases("PEN", "Stationery", 20, 2, frozen)
    buyer = order_placed_event("new@example.com", [product("PEN", "Stationery", qty=2)])
    replenishment.learn()
    assert LearnedCycle.objects.get(kind="product", key="PEN").observations == 2
    replenishment.update_contact(buyer.contact_id)
    assert prediction("new@example.com", "PEN").predicted_on is None  # 2 < 3: not trusted

    # A third repurchase arrives: the job takes it in (once settled), learns, re-predicts.
    order_placed_event(
        "pen9@example.com",
        [product("PEN", "Stationery")],
        occurred_at=frozen.now - timedelta(days=100),
    )
    order_placed_event(
        "pen9@example.com",
        [product("PEN", "Stationery")],
        occurred_at=frozen.now - timedelta(days=80),
    )
    frozen.advance(timedelta(minutes=10))
    replenishment.refresh()
    row = prediction("new@example.com", "PEN")
    assert (row.days_per_unit, row.cycle_source) == (20, CycleSource.PRODUCT)
    assert row.predicted_on == (buyer.occurred_at + timedelta(days=40)).date()  # 2 units


def test_a_product_without_enough_repurchases_takes_its_categorys(frozen, few_observations):
    repurchases("SHAMPOO", "Cosmetics", 30, 2, frozen)
    repurchases("CREAM", "Cosmetics", 40, 2, frozen)
    buyer = order_placed_event(
        "new@example.com", [product("SOAP", "Cosmetics"), product("CREAM", "Cosmetics")]
    )
    replenishment.learn()
    replenishment.update_contact(buyer.contact_id)
    soap = prediction("new@example.com", "SOAP")
    assert (soap.days_per_unit, soap.cycle_source) == (
        35,
        CycleSource.CATEGORY,
    )  # median of 30,30,40,40
    assert soap.predicted_on == (buyer.occurred_at + timedelta(days=35)).date()


def test_a_new_order_predicts_again(frozen, django_capture_on_commit_callbacks):
    place(
        "anna@example.com", [product("LENS", replenish_days=30)], django_capture_on_commit_callbacks
    )
    first = prediction("anna@example.com").predicted_on
    frozen.advance(timedelta(days=25))
    place(
        "anna@example.com", [product("LENS", replenish_days=30)], django_capture_on_commit_callbacks
    )
    row = prediction("anna@example.com")
    assert row.predicted_on == first + timedelta(days=25)
    assert (row.orders, row.units, row.intervals) == (2, 2, [25.0])


def test_a_failing_prediction_is_logged_and_the_order_still_recorded(
    frozen, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(contact_id):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(predict, "update_contact", broken)
    with caplog.at_level(logging.ERROR, "postpurchase.replenishment"):
        event = place(
            "anna@example.com",
            [product("LENS", replenish_days=30)],
            django_capture_on_commit_callbacks,
        )
    assert event.pk and not PurchasedProduct.objects.exists()
    assert f"contact {event.contact_id} after event {event.pk} failed" in caplog.text
    monkeypatch.undo()
    frozen.advance(timedelta(minutes=10))
    replenishment.refresh()  # the job catches up
    assert prediction("anna@example.com").predicted_on is not None


def due_now(now, after=None, limit=500):
    return list(replenishment.due(now, after, limit))


def test_due_fires_in_the_lead_window_once_per_prediction(
    frozen, settings, django_capture_on_commit_callbacks
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "REPLENISHMENT_LEAD_DAYS": 3}
    event = place(
        "anna@example.com",
        [product("LENS", "Lenses", replenish_days=30)],
        django_capture_on_commit_callbacks,
    )
    predicted = prediction("anna@example.com").predicted_on
    assert predicted == date(2026, 12, 23)
    start = frozen.now
    assert due_now(start + timedelta(days=26)) == []  # 4 days before
    found = due_now(start + timedelta(days=27))
    assert len(found) == 1
    contact_id, key, payload = found[0]
    assert contact_id == event.contact_id
    assert payload["product"] == {
        "sku": "LENS",
        "name": "Product LENS",
        "category": "Lenses",
        "url": "https://shop.example.com/p/LENS/",
        "image_url": "https://shop.example.com/img/LENS.jpg",
        "price": "100.00",
    }
    assert payload["predicted_on"] == "2026-12-23" and payload["quantity"] == 1
    # The same prediction has the same key every day of the window.
    assert [k for _, k, _ in due_now(start + timedelta(days=30))] == [key]
    assert due_now(start + timedelta(days=31)) == []  # the date has passed
    # A new order of the product is a new prediction, with its own key.
    frozen.advance(timedelta(days=10))
    place(
        "anna@example.com",
        [product("LENS", "Lenses", replenish_days=30)],
        django_capture_on_commit_callbacks,
    )
    [(_, second, _)] = due_now(frozen.now + timedelta(days=28))
    assert second != key


def test_due_uses_the_contacts_time_zone(frozen, django_capture_on_commit_callbacks):
    # 10:00 UTC on 23 November; in Auckland (UTC+13) it is already the evening.
    with django_capture_on_commit_callbacks(execute=True):
        track(
            "order_placed",
            email="kiri@example.com",
            contact={"timezone": "Pacific/Auckland"},
            data={"order": order_snapshot([product("LENS", replenish_days=30)])},
        )
    row = prediction("kiri@example.com")
    assert row.predicted_on == date(2026, 12, 23)
    # 20 Dec 12:00 UTC is 21 Dec in Auckland: 2 days before, in a 3-day window.
    moment = frozen.now.replace(day=20, month=12, hour=12)
    assert len(due_now(moment)) == 1
    # 19 Dec 10:00 UTC is 19 Dec 23:00 in Auckland: 4 days before.
    assert due_now(frozen.now.replace(day=19, month=12, hour=10)) == []


def test_due_batches_after_a_contact_and_never_split_one(
    frozen, django_capture_on_commit_callbacks
):
    emails = ["a@example.com", "b@example.com", "c@example.com"]
    for email in emails:
        place(
            email,
            [product("LENS", replenish_days=30), product("DROPS", replenish_days=30)],
            django_capture_on_commit_callbacks,
        )
    when = frozen.now + timedelta(days=29)
    first = due_now(when, None, 3)
    assert len(first) == 4  # a's two and b's two: b is not split
    rest = due_now(when, first[-1][0], 3)
    assert {c for c, _, _ in rest} == {prediction("c@example.com").contact_id} and len(rest) == 2
    assert due_now(when, rest[-1][0], 3) == []


def test_the_admin_lists_predictions_read_only_and_translated(
    admin_client, frozen, django_capture_on_commit_callbacks
):
    place(
        "anna@example.com", [product("LENS", replenish_days=30)], django_capture_on_commit_callbacks
    )
    url = reverse("admin:postpurchase_purchasedproduct_changelist")
    with translation.override("ru"):
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Product LENS" in page and "Прогнозы повторных покупок" in page
    assert admin_client.get(reverse("admin:postpurchase_purchasedproduct_add")).status_code == 403
    row = prediction("anna@example.com")
    page = admin_client.get(reverse("admin:postpurchase_purchasedproduct_change", args=[row.pk]))
    assert page.status_code == 200 and b'name="predicted_on"' not in page.content
    assert (
        admin_client.get(reverse("admin:postpurchase_learnedcycle_changelist")).status_code == 200
    )


def test_the_job_catches_up_on_history_in_small_batches(frozen, monkeypatch):
    """Orders recorded before the app predicted anything: each contact is read once,
    at the batch holding their latest order, and counts all of them."""
    monkeypatch.setattr(predict, "EVENT_BATCH", 1)
    start = frozen.now - timedelta(days=60)
    order_placed_event("anna@example.com", [product("LENS", replenish_days=30)], occurred_at=start)
    order_placed_event("ben@example.com", [product("LENS")], occurred_at=start)
    order_placed_event(
        "anna@example.com",
        [product("LENS", replenish_days=30)],
        occurred_at=start + timedelta(days=20),
    )
    frozen.advance(timedelta(minutes=10))
    calls = []
    real = predict.update_contacts
    monkeypatch.setattr(predict, "update_contacts", lambda ids: calls.append(ids) or real(ids))
    replenishment.refresh()
    anna = prediction("anna@example.com")
    assert (anna.orders, anna.intervals) == (2, [20.0])
    assert anna.predicted_on == (start + timedelta(days=50)).date()
    assert prediction("ben@example.com").orders == 1
    assert [len(ids) for ids in calls] == [0, 1, 1]  # anna skipped at her first order


@pytest.mark.parametrize("qty", [10**6, 10**12])
def test_a_huge_quantity_does_not_stop_the_job_for_everyone(frozen, qty):
    """One order of a million (or a trillion) units of a 30-day product: no date in
    range, no number the table holds. It is kept within bounds; the other contacts of
    the batch get their predictions and the job's cursor moves on."""
    order_placed_event("bulk@example.com", [product("LENS", qty=qty, replenish_days=30)])
    order_placed_event("anna@example.com", [product("LENS", replenish_days=30)])
    frozen.advance(timedelta(minutes=10))
    replenishment.refresh()
    assert (
        prediction("anna@example.com").predicted_on
        == (frozen.now - timedelta(minutes=10) + timedelta(days=30)).date()
    )
    assert PurchasedProduct.objects.filter(contact__email="bulk@example.com").exists()


def test_an_order_signalled_twice_counts_once(frozen, django_capture_on_commit_callbacks):
    """The shop sends order_placed twice for one order (a retried webhook, a re-save):
    its units are not doubled, so the predicted date stays 30 days on, not 60."""
    snapshot = order_snapshot([product("LENS", replenish_days=30)], ref="shop.order:7")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            track("order_placed", email="anna@example.com", data={"order": snapshot})
        frozen.advance(timedelta(minutes=1))
    lens = prediction("anna@example.com")
    assert (lens.orders, lens.units, lens.last_quantity) == (1, 1, 1)
    assert lens.predicted_on == (frozen.now - timedelta(minutes=2) + timedelta(days=30)).date()


@pytest.mark.parametrize("undone", ["order_cancelled", "order_refunded"])
def test_a_cancelled_or_refunded_order_predicts_nothing(
    frozen, undone, django_capture_on_commit_callbacks
):
    """The customer sent the lenses back: no reminder to buy them again (as the
    segments, such an order is out of the history); their other order still counts."""
    keep = order_snapshot([product("DROPS", replenish_days=30)], ref="shop.order:1")
    gone = order_snapshot([product("LENS", replenish_days=30)], ref="shop.order:2")
    for snapshot in (keep, gone):
        with django_capture_on_commit_callbacks(execute=True):
            track("order_placed", email="anna@example.com", data={"order": snapshot})
    assert prediction("anna@example.com").predicted_on is not None
    with django_capture_on_commit_callbacks(execute=True):
        track(undone, email="anna@example.com", order_ref="shop.order:2")
    assert not PurchasedProduct.objects.filter(sku="LENS").exists()
    assert prediction("anna@example.com", "DROPS").predicted_on is not None
