"""The default series end to end on a simulated clock, and what stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import track
from postpurchase.models import Enrollment, Message

from .helpers import place, run_clock

pytestmark = pytest.mark.django_db


def sent_offsets(start):
    return [
        (m.sent_at - start, m.subject)
        for m in Message.objects.filter(status="sent").order_by("sent_at")
    ]


def test_order_placed_enrolls_and_thanks_at_once(
    default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    enrollment = Enrollment.objects.get()
    assert enrollment.flow == default_flow
    assert enrollment.contact.email == "anna@example.com"
    assert len(mail.outbox) == 1, "the thank-you leaves right after commit, not at a tick"
    assert mail.outbox[0].to == ["Anna <anna@example.com>"]
    assert "1001" in mail.outbox[0].subject


def test_three_emails_at_0_2_and_7_days(default_flow, frozen, django_capture_on_commit_callbacks):
    start = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        place()
    run_clock(frozen)
    offsets = [offset for offset, _ in sent_offsets(start)]
    assert offsets == [timedelta(0), timedelta(days=2), timedelta(days=7)]
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert len(mail.outbox) == 3


@pytest.mark.parametrize("locale", ["en", "ru", "uk"])
def test_each_language_gets_its_own_copy(
    default_flow, frozen, locale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place(locale=locale, first_name="Olena")
    run_clock(frozen)
    languages = set(Message.objects.values_list("language", flat=True))
    assert languages == {locale}
    subjects = [m.subject for m in mail.outbox]
    assert len(set(subjects)) == 3, subjects


def test_languages_differ_in_subject(default_flow, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place(email="en@example.com", number="1", locale="en")
        place(email="ru@example.com", number="2", locale="ru")
        place(email="uk@example.com", number="3", locale="uk")
    subjects = {m.to[0].split("<")[-1].rstrip(">"): m.subject for m in mail.outbox}
    assert len(set(subjects.values())) == 3, subjects


def test_unknown_locale_falls_back_to_english(
    default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place(locale="de-AT")
    assert Message.objects.get().language == "en"


def test_cancelling_the_order_stops_its_series(
    default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place(number="1")
        place(number="2")
    frozen.advance(timedelta(days=1))
    track("order_cancelled", email="anna@example.com", order_ref="shop.order:1")
    run_clock(frozen)
    cancelled = Enrollment.objects.get(order_ref="shop.order:1")
    other = Enrollment.objects.get(order_ref="shop.order:2")
    assert cancelled.status == Enrollment.Status.EXITED
    assert cancelled.exit_reason == "event:order_cancelled"
    assert cancelled.messages.count() == 1  # only the thank-you
    assert other.status == Enrollment.Status.COMPLETED
    assert other.messages.filter(status="sent").count() == 3


def test_refund_exits_too(default_flow, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    track("order_refunded", email="anna@example.com", order_ref="shop.order:1001")
    assert Enrollment.objects.get().status == Enrollment.Status.EXITED


def test_paused_flow_holds_enrollments_until_resumed(
    default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    default_flow.status = "paused"
    default_flow.save()
    frozen.advance(timedelta(days=3))
    run_clock(frozen, days=10)
    assert Message.objects.count() == 1
    default_flow.status = "live"
    default_flow.save()
    run_clock(frozen)
    assert Message.objects.filter(status="sent").count() == 3
