"""Order status recipes (E2): processing, shipped, delivered. Transactional, one email
per order and status, sent at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase.models import Message
from tests.core.helpers import run_clock

from .helpers import PEOPLE, html_to, live, order_event, sent, subjects_by_language, text_to

pytestmark = pytest.mark.django_db

ALL = ("en", "ru", "uk")


def send_to_everyone(name, number="1001", **kwargs):
    for i, locale in enumerate(ALL):
        order_event(name, locale, number=f"{number}{i}", **kwargs)


def test_processing_in_three_languages(frozen):
    live("order-processing")
    send_to_everyone("order_paid", number="77", delivery_estimate="2026-11-26")
    run_clock(frozen)
    assert [(offset, lang) for offset, lang, _ in sent(frozen.now)] == [
        (timedelta(0), "en"),
        (timedelta(0), "ru"),
        (timedelta(0), "uk"),
    ]
    assert subjects_by_language() == {
        "en": ["Emily, we are preparing your order #770"],
        "ru": ["Анна, мы уже собираем ваш заказ № 771"],
        "uk": ["Олена, ми вже збираємо ваше замовлення № 772"],
    }
    assert set(Message.objects.values_list("category", flat=True)) == {"transactional"}
    [ru] = text_to(PEOPLE["ru"][0])
    assert "26 ноября 2026\u202fг." in ru  # CLDR's long date, the one date style
    assert "Unsubscribe" not in text_to(PEOPLE["en"][0])[0]


def test_processing_once_per_order(frozen):
    live("order-processing")
    order_event("order_paid", "en", number="5")
    order_event("order_paid", "en", number="5")
    order_event("order_paid", "en", number="6")
    run_clock(frozen)
    assert Message.objects.filter(status="sent").count() == 2


def test_shipped_links_the_tracking_page_from_the_event(frozen):
    live("order-shipped")
    send_to_everyone("order_shipped", data={"tracking_url": "https://track.example.com/E1"})
    run_clock(frozen)
    assert subjects_by_language() == {
        "en": ["Emily, your order #10010 is on its way"],
        "ru": ["Анна, ваш заказ № 10011 уже в пути"],
        "uk": ["Олена, ваше замовлення № 10012 вже в дорозі"],
    }
    for email, _ in PEOPLE.values():
        [html] = html_to(email)
        assert 'href="https://track.example.com/E1"' in html


def test_shipped_falls_back_to_the_orders_tracking_url(frozen):
    live("order-shipped")
    order_event("order_shipped", "en", tracking_url="https://track.example.com/O1")
    order_event("order_shipped", "ru", number="1002")  # no tracking link at all
    run_clock(frozen)
    [en] = html_to(PEOPLE["en"][0])
    assert 'href="https://track.example.com/O1"' in en and "Track your parcel" in en
    [ru] = text_to(PEOPLE["ru"][0])
    assert "Отследить посылку" not in ru
    assert "наши контакты — в конце письма" in ru


def test_delivered_in_three_languages(frozen):
    live("order-delivered")
    send_to_everyone("order_delivered")
    run_clock(frozen)
    assert subjects_by_language() == {
        "en": ["Emily, your order #10010 has arrived"],
        "ru": ["Анна, ваш заказ № 10011 доставлен"],
        "uk": ["Олена, ваше замовлення № 10012 доставлено"],
    }
    [en] = text_to(PEOPLE["en"][0])
    assert "Product 1" in en and "help@example.com" in en


def test_a_refund_before_the_email_stops_it(frozen):
    """Only the delivered flow could still be waiting (the others send at once); the
    exit event is wired all the same."""
    flow = live("order-delivered")
    assert "order_refunded" in flow.exit_events
    order_event("order_delivered", "en")
    order_event("order_refunded", "en")
    run_clock(frozen)
    assert Message.objects.count() == 0
