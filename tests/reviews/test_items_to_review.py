"""Review requests leave out the items the customer has already reviewed."""

from __future__ import annotations

import pytest
from django.core import mail

from example_shop.shop.adapter import ShopAdapter
from postpurchase.adapters import BaseAdapter
from postpurchase.delivery import items_left_to_review
from tests.core.helpers import run_clock
from tests.recipes.helpers import html_to, live, order_event
from tests.shop.factories import ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def item(sku: str, name: str) -> dict:
    return {
        "sku": sku,
        "name": name,
        "qty": 1,
        "price": "100.00",
        "total": "100.00",
        "review_url": f"https://shop.example.com/p/{sku.lower()}/#review",
    }


ITEMS = [item("BP-1", "Trekker 45 L"), item("BT-2", "Steel bottle"), item("", "Gift wrap")]


def test_the_base_adapter_reviewed_nothing():
    assert BaseAdapter().reviewed_skus({"email": "a@example.com", "items": ITEMS}) == set()


def test_the_shops_adapter_finds_reviews_by_email_and_sku():
    ReviewFactory(product=ProductFactory(sku="BP-1"), email="Emily@Example.com")
    ReviewFactory(product=ProductFactory(sku="BT-2"), email="someone@example.com")
    ReviewFactory(product=ProductFactory(sku="OTHER"), email="emily@example.com")
    snapshot = {"email": "emily@example.com", "items": ITEMS}
    assert ShopAdapter().reviewed_skus(snapshot) == {"BP-1"}
    assert ShopAdapter().reviewed_skus({"email": "emily@example.com", "items": []}) == set()


def test_items_left_to_review_keeps_items_without_a_sku():
    ReviewFactory(product=ProductFactory(sku="BP-1"), email="emily@example.com")
    left = items_left_to_review({"email": "emily@example.com", "items": ITEMS})
    assert [i["name"] for i in left] == ["Steel bottle", "Gift wrap"]
    assert items_left_to_review({}) == []


@pytest.mark.parametrize(
    "slug,trigger",
    [
        ("review-after-delivery", "order_delivered"),
        ("post-purchase-series", "order_placed"),
    ],
)
def test_the_review_request_skips_reviewed_items(frozen, slug, trigger):
    live(slug)
    ReviewFactory(product=ProductFactory(sku="BP-1"), email="emily@example.com")
    order_event(trigger, "en", items=ITEMS[:2])
    run_clock(frozen)
    html = html_to("emily@example.com")[-1]
    assert "Steel bottle" in html and "/p/bt-2/#review" in html
    assert "Trekker 45 L" not in html and "/p/bp-1/#review" not in html
    assert len(mail.outbox) >= 1


def test_the_adapter_is_asked_once_per_email(frozen, monkeypatch):
    calls = []
    original = ShopAdapter.reviewed_skus

    def counting(self, snapshot):
        calls.append(snapshot["number"])
        return original(self, snapshot)

    monkeypatch.setattr(ShopAdapter, "reviewed_skus", counting)
    live("review-after-delivery")
    order_event("order_delivered", "en", items=ITEMS[:2])
    run_clock(frozen)
    assert calls == ["1001"]
