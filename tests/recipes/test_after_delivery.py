"""Recipes timed after delivery (D2): review request (E4), usage tips (E6), social
invite (E9), referral invite (E10)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase import track
from postpurchase.models import Enrollment, Message
from tests.core.helpers import run_clock

from .helpers import PEOPLE, html_to, live, order_event, sent, subjects_by_language, text_to

pytestmark = pytest.mark.django_db

ALL = ("en", "ru", "uk")


def deliver_to_everyone(**extra):
    for i, locale in enumerate(ALL):
        order_event("order_delivered", locale, number=f"100{i}", **extra)


def offsets(start):
    return sorted({offset for offset, _, _ in sent(start)})


# --- review request ----------------------------------------------------------------


def test_review_request_a_week_after_delivery(frozen):
    live("review-after-delivery")
    deliver_to_everyone()
    run_clock(frozen)
    assert offsets(frozen.now - timedelta(days=7)) == [timedelta(days=7)]
    assert subjects_by_language() == {
        "en": ["Emily, how are you getting on with your purchase?"],
        "ru": ["Анна, как вам покупка спустя неделю?"],
        "uk": ["Олена, як вам покупка за тиждень?"],
    }
    [html] = html_to(PEOPLE["en"][0])
    # A button per item, to its review page.
    assert 'href="https://shop.example.com/p/1/#review"' in html
    assert 'href="https://shop.example.com/p/2/#review"' in html


def test_review_buttons_fall_back_to_the_order_page(frozen):
    live("review-after-delivery")
    order_event(
        "order_delivered",
        "en",
        items=[{"sku": "X", "name": "Mug", "qty": 1, "price": "10"}],
        order_url="https://shop.example.com/orders/1001/",
    )
    run_clock(frozen)
    [html] = html_to(PEOPLE["en"][0])
    assert 'href="https://shop.example.com/orders/1001/"' in html


def test_a_review_of_that_order_stops_the_request(frozen):
    start = frozen.now
    live("review-after-delivery")
    order_event("order_delivered", "en", number="1")
    order_event("order_delivered", "en", number="2")
    frozen.advance(timedelta(days=3))
    track(
        "review_submitted",
        email=PEOPLE["en"][0],
        order_ref="shop.order:1",
        data={"review": {"rating": 5}},
    )
    run_clock(frozen)
    reviewed = Enrollment.objects.get(order_ref="shop.order:1")
    other = Enrollment.objects.get(order_ref="shop.order:2")
    assert reviewed.status == Enrollment.Status.EXITED
    assert reviewed.exit_reason == "event:review_submitted"
    assert other.status == Enrollment.Status.COMPLETED
    assert [offset for offset, _, _ in sent(start)] == [timedelta(days=7)]


def test_a_refund_stops_the_request(frozen):
    live("review-after-delivery")
    order_event("order_delivered", "ru")
    frozen.advance(timedelta(days=1))
    order_event("order_refunded", "ru")
    run_clock(frozen)
    assert Message.objects.count() == 0
    assert Enrollment.objects.get().exit_reason == "event:order_refunded"


# --- usage tips --------------------------------------------------------------------


def with_tips(tips="Dry it open, away from radiators."):
    return [
        {"sku": "BP", "name": "Backpack", "qty": 1, "price": "4990", "tips": tips},
        {"sku": "CAP", "name": "Cap", "qty": 1, "price": "990"},
    ]


def test_usage_tips_three_days_after_delivery(frozen):
    start = frozen.now
    live("usage-tips")
    for i, locale in enumerate(ALL):
        order_event("order_delivered", locale, number=f"T{i}", items=with_tips(f"Tip {locale}"))
    run_clock(frozen)
    assert offsets(start) == [timedelta(days=3)]
    assert subjects_by_language() == {
        "en": ["Emily, a few tips for your new purchase"],
        "ru": ["Анна, несколько советов для вашей новой покупки"],
        "uk": ["Олена, кілька порад до вашої нової покупки"],
    }
    [text] = text_to(PEOPLE["uk"][0])
    assert "Backpack" in text and "Tip uk" in text
    assert "Cap" not in text  # no tips, not listed


def test_usage_tips_link_to_the_full_guide(frozen):
    live("usage-tips")
    items = with_tips()
    items[0]["tips_url"] = "https://shop.example.com/care/backpacks/"
    order_event("order_delivered", "en", items=items)
    run_clock(frozen)
    [html] = html_to(PEOPLE["en"][0])
    assert 'href="https://shop.example.com/care/backpacks/"' in html


def test_orders_without_tips_leave_at_once(frozen):
    live("usage-tips")
    order_event("order_delivered", "en")  # the factory's items carry no tips
    run_clock(frozen)
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "no item has tips"
    assert Message.objects.count() == 0


# --- social invite -----------------------------------------------------------------


def test_social_invite_two_weeks_after_delivery(frozen):
    start = frozen.now
    live("social-invite")
    deliver_to_everyone()
    run_clock(frozen)
    assert offsets(start) == [timedelta(days=14)]
    assert subjects_by_language() == {
        "en": ["Emily, let's stay in touch"],
        "ru": ["Анна, давайте оставаться на связи"],
        "uk": ["Олена, залишаймося на зв’язку"],
    }
    [html] = html_to(PEOPLE["en"][0])
    assert 'href="https://t.me/example"' in html and ">Telegram<" in html


def test_social_invite_without_social_links_points_to_the_site(frozen, settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "BRAND": {**settings.POSTPURCHASE["BRAND"], "social_links": []},
    }
    live("social-invite")
    order_event("order_delivered", "ru")
    run_clock(frozen)
    [text] = text_to(PEOPLE["ru"][0])
    assert "Перейти в магазин" in text and "Подписывайтесь" not in text


def test_social_invite_once_per_customer(frozen):
    live("social-invite")
    order_event("order_delivered", "en", number="1")
    frozen.advance(timedelta(days=30))
    order_event("order_delivered", "en", number="2")
    run_clock(frozen, days=60)
    assert Message.objects.filter(status="sent").count() == 1


# --- referral invite ---------------------------------------------------------------


def test_referral_invite_three_weeks_after_delivery(frozen):
    start = frozen.now
    live("referral-invite")
    deliver_to_everyone(referral_url="https://shop.example.com/?ref=r1")
    run_clock(frozen)
    assert offsets(start) == [timedelta(days=21)]
    assert subjects_by_language() == {
        "en": ["Emily, know someone who would like us too?"],
        "ru": ["Анна, а кому из друзей мы тоже понравимся?"],
        "uk": ["Олена, а кому з друзів ми теж сподобаємося?"],
    }
    [html] = html_to(PEOPLE["uk"][0])
    assert 'href="https://shop.example.com/?ref=r1"' in html
    assert "Поділитися посиланням" in html


def test_referral_invite_without_a_link_still_makes_sense(frozen):
    live("referral-invite")
    order_event("order_delivered", "en")
    run_clock(frozen)
    [text] = text_to(PEOPLE["en"][0])
    assert "?ref=" not in text
    assert "Just send them a link to our shop" in text


def test_referral_invite_at_most_once_in_90_days(frozen):
    start = frozen.now
    live("referral-invite")
    order_event("order_delivered", "en", number="1")
    run_clock(frozen)
    frozen.set(start + timedelta(days=40))
    order_event("order_delivered", "en", number="2")  # inside the period: skipped
    run_clock(frozen)
    frozen.set(start + timedelta(days=100))
    order_event("order_delivered", "en", number="3")  # 100 days on: invited again
    run_clock(frozen)
    assert Enrollment.objects.count() == 2
    assert [offset for offset, _, _ in sent(start)] == [
        timedelta(days=21),
        timedelta(days=121),
    ]
