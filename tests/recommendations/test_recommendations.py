"""Recommendations from the app's own order history: bought together, pricier in the
category, bestsellers, never what the customer has, and the shop adapter's say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import engine, recommendations
from postpurchase.adapters import BaseAdapter, DefaultAdapter, _load, get_adapter
from postpurchase.models import ProductPair, ProductStat
from postpurchase.replenishment import update_contact
from postpurchase.testing.factories import (
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
    order_placed_event,
    order_snapshot,
    product,
)

pytestmark = pytest.mark.django_db


def settle(frozen):
    """Orders are taken in once they are older than history.SETTLE."""
    frozen.advance(timedelta(minutes=10))
    return recommendations.refresh()


def skus(found):
    return [p["sku"] for p in found]


def test_bought_together_comes_first_and_leaves_out_what_the_customer_has(frozen):
    for n in range(3):
        order_placed_event(f"c{n}@example.com", [product("TENT"), product("PEGS"), product("LAMP")])
    order_placed_event("c3@example.com", [product("TENT"), product("PEGS")])
    # Anna bought the lamp last year: it is not suggested to her again.
    order_placed_event(
        "anna@example.com", [product("LAMP")], occurred_at=frozen.now - timedelta(days=300)
    )
    anna = order_placed_event("anna@example.com", [product("TENT")]).contact
    assert settle(frozen) == 6
    update_contact(anna.pk)

    snapshot = order_snapshot([product("TENT")], email="anna@example.com")
    found = recommendations.for_order(snapshot, limit=3)

    assert found[0] == {
        "sku": "PEGS",
        "name": "Product PEGS",
        "category": "",
        "url": "https://shop.example.com/p/PEGS/",
        "image_url": "https://shop.example.com/img/PEGS.jpg",
        "price": "100.00",
        "currency": "RUB",
        "reason": "bought_together",
    }
    assert "LAMP" not in skus(found) and "TENT" not in skus(found)
    # Someone who never bought the lamp gets it as the second best match.
    other = order_snapshot([product("TENT")], email="new@example.com")
    assert skus(recommendations.for_order(other, limit=2)) == ["PEGS", "LAMP"]


def test_a_pair_seen_fewer_times_than_the_setting_is_not_bought_together(frozen, settings):
    order_placed_event("a@example.com", [product("TENT"), product("MUG")])
    settle(frozen)
    snapshot = order_snapshot([product("TENT")], email="b@example.com")
    assert [p["reason"] for p in recommendations.for_order(snapshot)] == ["bestseller"]
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "RECOMMENDATIONS_MIN_PAIR_ORDERS": 1}
    assert recommendations.for_order(snapshot)[0]["reason"] == "bought_together"


def test_pricier_in_the_same_category_then_category_and_shop_bestsellers(frozen):
    for n, (sku, price) in enumerate(
        [("BOOT-1", "50.00"), ("BOOT-2", "80.00"), ("BOOT-3", "120.00")]
    ):
        for m in range(n + 1):  # BOOT-3 ordered most
            order_placed_event(f"b{n}{m}@example.com", [product(sku, "Boots", price)])
    order_placed_event("s@example.com", [product("SOCK", "Socks", "5.00")])
    for m in range(5):
        order_placed_event(f"h{m}@example.com", [product("HAT", "Hats", "30.00")])
    settle(frozen)

    snapshot = order_snapshot([product("BOOT-1", "Boots", "50.00")], email="new@example.com")
    found = recommendations.for_order(snapshot, limit=4)
    assert [(p["sku"], p["reason"]) for p in found] == [
        ("BOOT-3", "pricier"),  # the pricier ones, most ordered first
        ("BOOT-2", "pricier"),
        ("HAT", "bestseller"),  # then the shop's bestsellers
        ("SOCK", "bestseller"),
    ]
    # The dearest boot has nothing pricier: the category's bestsellers come first.
    dearest = order_snapshot([product("BOOT-3", "Boots", "120.00")], email="new@example.com")
    assert [(p["sku"], p["reason"]) for p in recommendations.for_order(dearest, limit=3)] == [
        ("BOOT-2", "category_bestseller"),
        ("BOOT-1", "category_bestseller"),
        ("HAT", "bestseller"),
    ]


def test_too_little_data_fills_up_from_recent_bestsellers_before_old_ones(frozen):
    for m in range(4):  # many orders, but two months ago
        order_placed_event(
            f"o{m}@example.com", [product("OLD")], occurred_at=frozen.now - timedelta(days=60)
        )
    order_placed_event("n@example.com", [product("NEW")])
    settle(frozen)
    snapshot = order_snapshot([product("UNSEEN")], email="x@example.com")
    assert skus(recommendations.for_order(snapshot, limit=3)) == ["NEW", "OLD"]
    assert recommendations.for_order(snapshot, limit=0) == []


def test_no_history_suggests_nothing_and_bad_items_are_skipped(frozen):
    snapshot = order_snapshot([{"name": "no sku"}, "junk", {"sku": "X" * 300}])
    assert recommendations.for_order(snapshot) == []
    order_placed_event(
        "a@example.com", [{"name": "no sku"}, product("OK", price="on request", total="")]
    )
    settle(frozen)
    assert ProductStat.objects.get().price is None
    assert recommendations.for_order(order_snapshot([]))[0]["price"] == "on request"


def test_refresh_takes_in_new_orders_once_and_recounts_the_window(frozen):
    order_placed_event("a@example.com", [product("A"), product("B")])
    order_placed_event("b@example.com", [product("A"), product("B")])
    assert recommendations.refresh() == 0  # younger than SETTLE: a checkout may still commit
    assert settle(frozen) == 2
    assert settle(frozen) == 0  # a second run adds nothing
    assert ProductPair.objects.get(sku="A", other_sku="B").orders == 2
    stat = ProductStat.objects.get(sku="A")
    assert (stat.orders_total, stat.orders_recent) == (2, 2)

    # A new order with changed details: counted, and the product shows them.
    order_placed_event("c@example.com", [product("A", price="90.00") | {"name": "A, new"}])
    settle(frozen)
    stat.refresh_from_db()
    assert (stat.orders_total, stat.name, stat.price) == (3, "A, new", 90)

    # 31 days on, the orders fell out of the bestseller window but stay counted.
    frozen.advance(timedelta(days=31))
    recommendations.refresh()
    stat.refresh_from_db()
    assert (stat.orders_total, stat.orders_recent) == (3, 0)


def test_rebuild_starts_over(frozen):
    order_placed_event("a@example.com", [product("A"), product("B")])
    order_placed_event("b@example.com", [product("A"), product("B")])
    settle(frozen)
    assert recommendations.rebuild() == 2
    assert ProductPair.objects.get(sku="A", other_sku="B").orders == 2


class InStockOnly(DefaultAdapter):
    """A shop that leaves out what is out of stock and puts its own brand first."""

    def recommendations(self, snapshot, limit=3):
        found = super().recommendations(snapshot, limit=limit + 5)
        found = [p for p in found if p["sku"] != "GONE"]
        found.sort(key=lambda p: not p["sku"].startswith("OWN"))
        return found[:limit]


def test_the_default_adapter_gives_the_apps_own_and_a_shop_can_re_rank(frozen, settings):
    for m in range(3):
        order_placed_event(f"a{m}@example.com", [product("GONE")])
    for m in range(2):
        order_placed_event(f"b{m}@example.com", [product("OTHER")])
    order_placed_event("c@example.com", [product("OWN-1")])
    settle(frozen)
    snapshot = order_snapshot([], email="x@example.com")
    assert skus(BaseAdapter().recommendations(snapshot, limit=2)) == ["GONE", "OTHER"]
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.recommendations.test_recommendations.InStockOnly",
    }
    _load.cache_clear()
    assert skus(get_adapter().recommendations(snapshot, limit=2)) == ["OWN-1", "OTHER"]
    _load.cache_clear()


def test_an_email_shows_the_apps_recommendations(frozen, settings):
    # The example shop's adapter recommends from its catalogue; the default is ours.
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "postpurchase.adapters.DefaultAdapter",
    }
    for n in range(2):
        order_placed_event(f"c{n}@example.com", [product("TENT"), product("PEGS")])
    settle(frozen)
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(
        template=template,
        body=(
            '{% extends "postpurchase/email/base.mjml" %}{% block content %}'
            '{% include "postpurchase/email/partials/products.mjml" %}{% endblock %}'
        ),
    )
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=template, category="transactional")
    EnrollmentFactory(
        flow=flow,
        contact__email="anna@example.com",
        snapshot=order_snapshot([product("TENT")], email="anna@example.com"),
    )
    engine.run_due()
    [sent] = mail.outbox
    html = sent.alternatives[0][0]
    assert "Product PEGS" in html and "https://shop.example.com/img/PEGS.jpg" in html


@pytest.mark.parametrize("price", ["1e20", "123456789012345", "1E+400"])
def test_a_price_the_tables_cannot_hold_does_not_stop_the_refresh(frozen, price):
    """One order's item with an absurd price (a typo, a placeholder): its product is
    kept without a price; the batch, and everyone's recommendations, go on."""
    order_placed_event("odd@example.com", [product("ODD", price=price), product("TENT")])
    order_placed_event("c1@example.com", [product("TENT"), product("PEGS")])
    assert settle(frozen) == 2
    found = recommendations.for_order(order_snapshot([product("LAMP")], email="x@example.com"))
    assert {p["sku"] for p in found} == {"ODD", "TENT", "PEGS"}
    assert ProductStat.objects.get(sku="ODD").price is None


def test_an_email_without_an_order_leaves_out_what_the_contact_bought(frozen, settings):
    """A birthday or replenishment email's enrollment has no order snapshot: the
    products are still chosen for its contact (never one they bought)."""
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "postpurchase.adapters.DefaultAdapter",
    }
    for n in range(3):
        order_placed_event(f"c{n}@example.com", [product("TENT")])
    order_placed_event("c9@example.com", [product("PEGS")])
    order_placed_event("anna@example.com", [product("TENT")])
    settle(frozen)
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(
        template=template,
        body=(
            '{% extends "postpurchase/email/base.mjml" %}{% block content %}'
            '{% include "postpurchase/email/partials/products.mjml" %}{% endblock %}'
        ),
    )
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=template, category="transactional")
    anna = order_placed_event("anna@example.com", [product("TENT")]).contact
    update_contact(anna.pk)
    EnrollmentFactory(flow=flow, contact=anna, snapshot={})
    engine.run_due()
    [sent] = mail.outbox
    html = sent.alternatives[0][0]
    assert "Product PEGS" in html
    assert "Product TENT" not in html


def test_an_order_signalled_twice_is_counted_once(frozen):
    """order_placed twice for one order, in one batch and again in a later one: the
    products and the pair count it once."""
    items = [product("TENT"), product("PEGS")]
    order_placed_event("anna@example.com", items, ref="shop.order:7")
    order_placed_event("anna@example.com", items, ref="shop.order:7")
    settle(frozen)
    order_placed_event("anna@example.com", items, ref="shop.order:7")
    settle(frozen)
    assert ProductStat.objects.get(sku="TENT").orders_total == 1
    assert ProductPair.objects.get(sku="TENT", other_sku="PEGS").orders == 1
