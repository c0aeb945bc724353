"""Browse and cart abandonment (D3): a reminder after 20 minutes, an offer after 24
hours; ordering (or adding to the cart, or emptying it) ends the flow; at most once a
day per customer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase.models import Enrollment, Message
from tests.core.helpers import run_clock

from .helpers import (
    PEOPLE,
    customer_event,
    html_to,
    live,
    order_event,
    sent,
    subjects_by_language,
    text_to,
)

pytestmark = pytest.mark.django_db

ALL = ("en", "ru", "uk")
REMINDER, OFFER = timedelta(minutes=20), timedelta(hours=24)

PRODUCT = {
    "sku": "BP-TRK-45",
    "name": "Trekker 45 L",
    "category": "Backpacks",
    "price": "8990.00",
    "currency": "RUB",
    "url": "https://shop.example.com/p/trekker-45/",
    "image_url": "https://shop.example.com/img/trekker.jpg",
}
CART = {
    "items": [
        {
            "sku": "BP-TRK-45",
            "name": "Trekker 45 L",
            "qty": 1,
            "price": "8990.00",
            "total": "8990.00",
            "url": "https://shop.example.com/p/trekker-45/",
            "image_url": "",
        },
        {
            "sku": "AC-BOTTLE",
            "name": "Steel Bottle 0.75 L",
            "qty": 2,
            "price": "1690.00",
            "total": "3380.00",
            "url": "https://shop.example.com/p/bottle/",
            "image_url": "",
        },
    ],
    "subtotal": "12370.00",
    "currency": "RUB",
    "cart_url": "https://shop.example.com/cart/",
}


# --- browse abandonment ------------------------------------------------------------


def test_browse_reminder_after_20_minutes_and_offer_after_24_hours(frozen):
    start = frozen.now
    live("browse-abandonment")
    for locale in ALL:
        customer_event("product_viewed", locale, data=PRODUCT)
    run_clock(frozen)
    assert sorted({offset for offset, _, _ in sent(start)}) == [REMINDER, OFFER]
    assert subjects_by_language() == {
        "en": ["Emily, still thinking about Trekker 45 L?", "Emily, need a hand choosing?"],
        "ru": ["Анна, всё ещё думаете о «Trekker 45 L»?", "Анна, помочь с выбором?"],
        "uk": ["Олена, досі думаєте про «Trekker 45 L»?", "Олена, допомогти з вибором?"],
    }
    reminder, offer = html_to(PEOPLE["ru"][0])
    assert 'href="https://shop.example.com/p/trekker-45/"' in reminder
    assert 'src="https://shop.example.com/img/trekker.jpg"' in reminder
    assert "8\u00a0990\u00a0₽" in reminder
    assert "Trekker 45 L" in offer and "+7 800 555-35-35" in offer
    assert set(Message.objects.values_list("category", flat=True)) == {"marketing"}


def test_adding_to_the_cart_ends_browse_abandonment(frozen):
    start = frozen.now
    live("browse-abandonment")
    customer_event("product_viewed", "en", data=PRODUCT)
    run_clock(frozen, days=1 / 24)  # just the 20-minute email
    frozen.set(start + timedelta(hours=2))
    customer_event("cart_updated", "en", data=CART)
    run_clock(frozen)
    assert [subject for _, _, subject in sent(start)] == [
        "Emily, still thinking about Trekker 45 L?"
    ]
    assert Enrollment.objects.get().exit_reason == "event:cart_updated"


def test_ordering_ends_browse_abandonment_before_the_first_email(frozen):
    live("browse-abandonment")
    customer_event("product_viewed", "uk", data=PRODUCT)
    frozen.advance(timedelta(minutes=5))
    order_event("order_placed", "uk")
    run_clock(frozen)
    assert Message.objects.count() == 0
    assert Enrollment.objects.get().exit_reason == "event:order_placed"


def test_browse_abandonment_once_a_day(frozen):
    start = frozen.now
    live("browse-abandonment")
    customer_event("product_viewed", "en", data=PRODUCT)
    frozen.set(start + timedelta(hours=3))
    customer_event("product_viewed", "en", data={**PRODUCT, "name": "Dome 2 Tent"})
    run_clock(frozen)
    assert Enrollment.objects.count() == 1
    frozen.set(start + timedelta(days=2))
    customer_event("product_viewed", "en", data={**PRODUCT, "name": "Dome 2 Tent"})
    run_clock(frozen)
    assert Enrollment.objects.count() == 2
    assert Message.objects.filter(status="sent").count() == 4


def test_browse_email_without_product_data(frozen):
    live("browse-abandonment")
    customer_event("product_viewed", "en")
    run_clock(frozen)
    reminder, offer = text_to(PEOPLE["en"][0])
    assert "you were browsing our shop" in reminder
    assert Message.objects.filter(status="sent").count() == 2


def test_the_offer_waits_for_the_customers_daytime(frozen):
    """Viewed at 22:00 UTC: the reminder goes at 22:20, the offer not at 22:00 the next
    night but at 9:00 the morning after (a send window of 9-21 local time)."""
    start = frozen.now
    frozen.set(start + timedelta(hours=12))  # 22:00 UTC
    live("browse-abandonment")
    customer_event("product_viewed", "en", data=PRODUCT)
    run_clock(frozen)
    assert [offset for offset, _, _ in sent(start)] == [
        timedelta(hours=12, minutes=20),
        timedelta(days=2, hours=-1),  # 09:00 on the 25th
    ]


# --- cart abandonment --------------------------------------------------------------


def test_cart_reminder_after_20_minutes_and_offer_after_24_hours(frozen):
    start = frozen.now
    live("cart-abandonment")
    for locale in ALL:
        customer_event("cart_updated", locale, data=CART)
    run_clock(frozen)
    assert sorted({offset for offset, _, _ in sent(start)}) == [REMINDER, OFFER]
    assert subjects_by_language() == {
        "en": [
            "Emily, you left something in your cart",
            "Emily, shall we finish your order together?",
        ],
        "ru": [
            "Анна, в корзине остались ваши товары",
            "Анна, давайте оформим заказ вместе?",
        ],
        "uk": [
            "Олена, у кошику залишилися ваші товари",
            "Олена, оформімо замовлення разом?",
        ],
    }
    reminder, offer = html_to(PEOPLE["uk"][0])
    for html in (reminder, offer):
        assert "Trekker 45 L" in html and "Steel Bottle 0.75 L" in html
        assert 'href="https://shop.example.com/cart/"' in html
        assert 'href="tel:+78005553535"' in html and "help@example.com" in html
    assert "12\u00a0370\u00a0₴" not in reminder  # the cart's currency, not a guess
    assert "12\u00a0370\u00a0₽" in reminder


def test_ordering_ends_cart_abandonment(frozen):
    start = frozen.now
    live("cart-abandonment")
    customer_event("cart_updated", "ru", data=CART)
    run_clock(frozen, days=1 / 24)  # just the 20-minute email
    frozen.set(start + timedelta(hours=1))
    order_event("order_placed", "ru")
    run_clock(frozen)
    assert [subject for _, _, subject in sent(start)] == ["Анна, в корзине остались ваши товары"]
    assert Enrollment.objects.get().exit_reason == "event:order_placed"


def test_emptying_the_cart_ends_cart_abandonment(frozen):
    live("cart-abandonment")
    customer_event("cart_updated", "en", data=CART)
    frozen.advance(timedelta(minutes=10))
    customer_event("cart_emptied", "en")
    run_clock(frozen)
    assert Message.objects.count() == 0
    assert Enrollment.objects.get().exit_reason == "event:cart_emptied"


def test_cart_abandonment_once_a_day(frozen):
    live("cart-abandonment")
    for _ in range(3):
        customer_event("cart_updated", "en", data=CART)
        frozen.advance(timedelta(minutes=5))
    run_clock(frozen)
    assert Enrollment.objects.count() == 1
    assert Message.objects.filter(status="sent").count() == 2


def test_cart_email_without_cart_data_links_the_shop(frozen):
    live("cart-abandonment")
    customer_event("cart_updated", "en")
    run_clock(frozen)
    reminder, _ = html_to(PEOPLE["en"][0])
    assert "Go to your cart" in reminder
