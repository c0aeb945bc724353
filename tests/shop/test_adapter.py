from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from example_shop.shop.adapter import ShopAdapter
from example_shop.shop.tips import category_tips
from postpurchase.adapters import clean_snapshot, get_adapter
from postpurchase.conf import site_url

from .factories import (
    CategoryFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(product):
    order = OrderFactory(
        number="BP-TEST1",
        email="anna@example.com",
        locale="ru",
        subtotal=Decimal("9980"),
        shipping_cost=Decimal("0"),
        total=Decimal("9980"),
        tracking_url="https://track.example.com/BP-TEST1",
    )
    OrderItemFactory(order=order, product=product, qty=2)
    return order


def test_settings_point_at_the_shop_adapter():
    assert isinstance(get_adapter(), ShopAdapter)


def test_order_snapshot_is_plain_json_with_the_documented_keys(order):
    snapshot = ShopAdapter().order_snapshot(order)
    assert json.loads(json.dumps(snapshot)) == snapshot  # no Decimal, date or model inside
    assert clean_snapshot(snapshot) == snapshot

    assert snapshot["email"] == "anna@example.com"
    assert snapshot["ref"] == f"shop.order:{order.pk}"
    assert snapshot["number"] == "BP-TEST1"
    assert (snapshot["locale"], snapshot["timezone"]) == ("ru", "Europe/Moscow")
    assert (snapshot["subtotal"], snapshot["shipping_cost"], snapshot["total"]) == (
        "9980.00",
        "0.00",
        "9980.00",
    )
    assert snapshot["discount"] == "0.00"
    assert snapshot["currency"] == "RUB"
    assert snapshot["payment_method"] == "Card online"
    assert snapshot["shipping_method"] == "Courier"
    assert snapshot["tracking_url"] == "https://track.example.com/BP-TEST1"
    assert snapshot["placed_at"] == order.created_at.isoformat()
    [item] = snapshot["items"]
    assert item == {
        "sku": "BP-TRK-45",
        "name": "Trekker 45 L",
        "category": "Backpacks",
        "qty": 2,
        "price": "4990.00",
        "total": "9980.00",
        "image_url": "",
        "url": site_url() + "/p/trekker-45/",
        "review_url": site_url() + "/p/trekker-45/#review",
        "tips": category_tips("Backpacks", "ru"),
    }
    assert item["tips"].startswith("Перед походом")  # in the order's language


def test_snapshot_has_a_stable_personal_referral_url(order):
    url = ShopAdapter().order_snapshot(order)["referral_url"]
    assert url.startswith(site_url() + "/?ref=")
    other = OrderFactory(number="BP-TEST2", email="Anna@Example.com")
    assert ShopAdapter().order_snapshot(other)["referral_url"] == url
    stranger = OrderFactory(number="BP-TEST3", email="boris@example.com")
    assert ShopAdapter().order_snapshot(stranger)["referral_url"] != url


def test_items_of_a_category_without_tips_get_none(order):
    assert category_tips("Gift cards", "en") == ""
    assert category_tips("Tents", "de")  # unknown language: English


def test_order_url_in_snapshot_opens_the_order_page(order):
    url = ShopAdapter().order_snapshot(order)["order_url"]
    assert url.startswith(site_url() + "/orders/BP-TEST1/")
    assert Client().get(url.removeprefix(site_url())).status_code == 200


def test_snapshot_survives_a_deleted_product(order, product):
    product.delete()
    [item] = ShopAdapter().order_snapshot(order)["items"]
    assert item["name"] == "Trekker 45 L"
    assert item["url"] == item["review_url"] == ""


def test_review_snapshot(order, product):
    review = ReviewFactory(
        product=product, order=order, email="anna@example.com", name="Anna P", rating=4
    )
    snapshot = ShopAdapter().review_snapshot(review)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot == {
        "email": "anna@example.com",
        "first_name": "Anna",
        "locale": "ru",
        "order_ref": f"shop.order:{order.pk}",
        "product": {
            "sku": "BP-TRK-45",
            "name": "Trekker 45 L",
            "url": site_url() + "/p/trekker-45/",
        },
        "rating": 4,
        "text": "Great.",
    }


def test_review_snapshot_without_order_has_no_order_ref(product):
    snapshot = ShopAdapter().review_snapshot(ReviewFactory(product=product))
    assert "order_ref" not in snapshot
    assert "locale" not in snapshot  # the contact keeps the language it has


def test_recommendations_same_category_first_then_bestsellers(order, product):
    same_cat = ProductFactory(name="Daypack", category=product.category)
    ProductFactory(name="Retired", category=product.category, is_active=False)
    other = CategoryFactory(name="Accessories", slug="accessories")
    bestseller = ProductFactory(name="Bottle", category=other, price=Decimal("1690"))
    ProductFactory(name="Slow seller", category=other)
    OrderItemFactory(product=bestseller, qty=5)

    snapshot = ShopAdapter().order_snapshot(order)
    picks = ShopAdapter().recommendations(snapshot, limit=2)

    assert [p["name"] for p in picks] == ["Daypack", "Bottle"]
    assert json.loads(json.dumps(picks)) == picks
    assert picks[1] == {
        "sku": bestseller.sku,
        "name": "Bottle",
        "url": site_url() + bestseller.get_absolute_url(),
        "image_url": "",
        "price": "1690.00",
        "currency": "RUB",
    }
    assert same_cat.sku != product.sku


def test_recommendations_never_suggest_what_was_bought(order):
    snapshot = ShopAdapter().order_snapshot(order)
    assert ShopAdapter().recommendations(snapshot) == []
