"""The lifecycle recipes, each on its own simulated clock: the date scan runs daily, the
scheduler runs what is due, in en, ru and uk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from postpurchase import clock, consent
from postpurchase.coupons import issue_coupon
from postpurchase.lifecycle import Occurrence, date_triggers, register_date_trigger
from postpurchase.lifecycle.scan import scan_date_triggers
from postpurchase.models import Contact, Coupon, CouponPolicy, Enrollment, Event
from postpurchase.testing.factories import EventFactory, order_snapshot
from tests.core.helpers import run_due

from .helpers import PEOPLE, live, order_event, sent, subjects_by_language, text_to

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def replay(days: int, start: datetime = START) -> None:
    """Every simulated hour for ``days``: the scan (hourly, as the job), then the due
    work."""
    with clock.frozen_at(start) as simulated:
        for _hour in range(days * 24):
            scan_date_triggers()
            run_due()
            simulated.advance(timedelta(hours=1))


def customers(**fields) -> list[Contact]:
    people = []
    for locale, (email, first_name) in PEOPLE.items():
        contact, _ = Contact.objects.update_or_create(
            email=email,
            defaults={"first_name": first_name, "locale": locale, "timezone": "Europe/Kyiv"},
        )
        Contact.objects.filter(pk=contact.pk).update(**fields)
        consent.note_purchase(contact)  # existing customers: marketing on soft opt-in
        people.append(contact)
    return people


def past_order(contact: Contact, at: datetime, number: str) -> Event:
    return EventFactory(
        contact=contact,
        name="order_placed",
        occurred_at=at,
        order_ref=f"shop.order:{number}",
        snapshot=order_snapshot(email=contact.email, number=number, locale=contact.locale),
    )


def test_winback_three_escalating_emails_and_exit_on_order():
    live("winback")
    people = customers()
    for n, contact in enumerate(people):
        past_order(contact, START - timedelta(days=90), f"10{n}")
    replay(days=31)
    subjects = subjects_by_language()
    assert subjects["en"] == [
        "Emily, we miss you",
        "Emily, 15% off, just for you",
        "Emily, free shipping on us",
    ]
    assert subjects["ru"][0] == "Анна, мы скучаем"
    assert subjects["uk"][2] == "Олена, доставка за наш рахунок"
    offsets = sorted({offset for offset, _lang, _s in sent(START)})
    # 9:00 in Kyiv (UTC+2) on the day of the lapse, then 15 and 30 days later.
    assert [o.days for o in offsets] == [0, 15, 30]
    coupons = Coupon.objects.filter(contact__email=PEOPLE["en"][0]).order_by("issued_at")
    assert [c.kind for c in coupons] == ["percent", "percent", "free_shipping"]
    assert [c.expired_at is None for c in coupons] == [False, False, True]  # only one valid


def test_winback_ends_when_the_customer_orders():
    live("winback")
    people = customers()
    for n, contact in enumerate(people):
        past_order(contact, START - timedelta(days=90), f"20{n}")
    replay(days=2)
    with clock.frozen_at(START + timedelta(days=3)):
        order_event("order_placed", "en", number="300")
    replay(days=30, start=START + timedelta(days=3, hours=1))
    assert len(subjects_by_language()["en"]) == 1
    assert len(subjects_by_language()["ru"]) == 3
    enrollment = Enrollment.objects.get(flow__slug="winback", contact__email=PEOPLE["en"][0])
    assert enrollment.exit_reason == "event:order_placed"


def test_birthday_gift_valid_for_the_birthday_week():
    live("birthday")
    customers(birthday=date(1990, 3, 5))
    replay(days=2)
    assert subjects_by_language() == {
        "en": ["Emily, happy birthday!"],
        "ru": ["Анна, с днём рождения!"],
        "uk": ["Олена, з днем народження!"],
    }
    coupon = Coupon.objects.filter(contact__email=PEOPLE["en"][0]).get()
    # Issued three days before the birthday (5 March), valid for seven days.
    assert coupon.issued_at.date() == date(2026, 3, 2)
    assert coupon.expires_on == date(2026, 3, 9)
    replay(days=1, start=START + timedelta(days=2))
    assert Coupon.objects.count() == 3  # once a year


def test_coupon_about_to_expire():
    live("coupon-expiring")
    policy = CouponPolicy.objects.create(name="5", kind="percent", percent=5, validity_days=10)
    codes = [issue_coupon(policy, c, now=START - timedelta(days=5)) for c in customers()]
    replay(days=4)
    assert subjects_by_language()["en"] == ["Emily, your code expires soon"]
    assert subjects_by_language()["uk"] == ["Олена, ваш промокод скоро спливе"]
    (text,) = text_to(PEOPLE["en"][0])
    assert codes[0].code in text  # customers() follows PEOPLE: en first
    assert "valid until" in text


def test_picked_for_you_a_month_after_the_order():
    live("picked-for-you")
    for n, contact in enumerate(customers()):
        past_order(contact, START - timedelta(days=30), f"40{n}")
    replay(days=1)
    assert subjects_by_language()["en"] == ["Emily, we picked something for you"]
    assert subjects_by_language()["ru"] == ["Анна, мы кое-что подобрали для вас"]
    enrollment = Enrollment.objects.get(contact__email=PEOPLE["en"][0])
    assert enrollment.order_ref.startswith("shop.order:40")


def test_replenishment_reminder_before_and_on_the_day():
    live("replenishment-reminder")
    people = customers()
    trigger = date_triggers()["replenishment_due"]

    def due_in_a_week(now, days, after, batch_size):
        for contact in people:
            if contact.pk > after:
                payload = {"days": days, "product": {"name": "Lenses"}, "due_at": START}
                yield Occurrence(contact.pk, f"replenishment:{days}:{contact.pk}:LENS", payload)

    register_date_trigger("replenishment_due", trigger.label, due_in_a_week, trigger.days_help)
    try:
        replay(days=8)
    finally:
        register_date_trigger("replenishment_due", trigger.label, trigger.finder, trigger.days_help)
    assert subjects_by_language()["en"] == [
        "Emily, time to stock up soon",
        "Emily, time to stock up",
    ]
    assert [o.days for o, lang, _s in sent(START) if lang == "en"] == [0, 7]
