"""Quiet hours in the contact's time zone, and send-time optimisation: a send moved into
the contact's usual reading hour, the shop's best hour without enough data, and no move
at all without any."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from postpurchase import track
from postpurchase.models import EmailStep, Flow, Message
from postpurchase.models.contacts import Contact
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    MessageFactory,
    order_snapshot,
)

from ..core.helpers import run_clock
from .helpers import delayed_email_flow, email_flow, messages_of, pacing_settings

pytestmark = pytest.mark.django_db

# The frozen clock: Monday 23 November 2026, 10:00 UTC = 23:00 in Auckland (NZDT, +13).
AUCKLAND = "Pacific/Auckland"


def order(email: str, number: str, timezone: str = "") -> None:
    track(
        "order_placed",
        email=email,
        data={"order": order_snapshot(email=email, number=number)},
        order_ref=f"shop.order:{number}",
        contact={"first_name": "Kiri", "timezone": timezone},
    )


def test_quiet_hours_hold_marketing_till_morning_in_a_far_time_zone(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, QUIET_HOURS={"start": 21, "end": 8})
    tips = email_flow("tips")
    receipt = email_flow("receipt", category=EmailStep.Category.TRANSACTIONAL)
    with django_capture_on_commit_callbacks(execute=True):
        order("kiri@example.nz", "1", AUCKLAND)
        order("bob@example.com", "2", "Europe/London")  # 10:00 there: not quiet
    run_clock(frozen, days=3)

    kiri = {m.enrollment.flow_id: m for m in Message.objects.filter(to_email="kiri@example.nz")}
    # 23:00 in Auckland: the marketing email waits for 08:00 there (19:00 UTC)...
    assert kiri[tips.pk].sent_at == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    assert kiri[tips.pk].deferral_reason == "quiet_hours"
    # ...the order email does not wait.
    assert kiri[receipt.pk].sent_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    bob = Message.objects.get(to_email="bob@example.com", category="marketing")
    assert bob.sent_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert bob.deferrals == 0


def test_quiet_hours_within_one_night(settings, frozen, django_capture_on_commit_callbacks):
    """Quiet hours that do not cross midnight (1 to 7) in UTC+13: a delay ending at
    02:00 local waits until 07:00."""
    pacing_settings(settings, QUIET_HOURS={"start": 1, "end": 7})
    flow = delayed_email_flow("later", hours=3)  # 13:00 UTC = 02:00 in Auckland
    with django_capture_on_commit_callbacks(execute=True):
        order("kiri@example.nz", "1", AUCKLAND)
    run_clock(frozen, days=3)
    (message,) = messages_of(flow)
    assert message.sent_at == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 07:00 NZDT


def engaged(contact: Contact, hours: list[int], day: datetime | None = None) -> None:
    """Past emails of ``contact`` first opened at these UTC hours (set directly, as the
    tracking receivers would)."""
    flow = FlowFactory(slug=f"past-{contact.pk}-{len(hours)}-{hours[0]}")
    EmailStepFactory(flow=flow)
    day = day or datetime(2026, 11, 1, tzinfo=UTC)
    for i, hour in enumerate(hours):
        enrollment = EnrollmentFactory(flow=flow, contact=contact, status="completed")
        sent = day + timedelta(days=i, hours=8)
        MessageFactory(
            enrollment=enrollment,
            created_at=sent,
            opened_at=(day + timedelta(days=i)).replace(hour=hour, minute=20),
        )


def test_send_time_moves_a_send_into_the_learned_hour(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True)
    anna = ContactFactory(email="anna@example.com")
    engaged(anna, [18, 18, 18, 9])
    flow = email_flow("tips", optimise_send_time=True)
    plain = email_flow("plain")  # this step does not opt in
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    assert [m.status for m in messages_of(plain)] == ["sent"]
    run_clock(frozen, days=3)
    (message,) = messages_of(flow)
    assert message.sent_at == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert message.deferral_reason == "send_time"
    assert message.deferrals == 1


def test_send_time_counts_hours_in_the_contacts_zone(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True)
    kiri = ContactFactory(email="kiri@example.nz", timezone=AUCKLAND)
    engaged(kiri, [7, 7, 7])  # 07:20 UTC = 20:20 NZDT
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("kiri@example.nz", "1", AUCKLAND)
    run_clock(frozen, days=3)
    (message,) = messages_of(flow)
    # Next 20:00 in Auckland after 23:00 there: the next day's 07:00 UTC.
    assert message.sent_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def test_without_enough_data_the_shops_best_hour(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True, SEND_TIME_MIN_OBSERVATIONS=3)
    anna = ContactFactory(email="anna@example.com")
    engaged(anna, [18])  # one observation: too few
    for n in range(3):
        engaged(ContactFactory(email=f"other{n}@example.com"), [15, 15])
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    run_clock(frozen, days=3)
    (message,) = messages_of(flow)
    assert message.sent_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_without_any_data_it_goes_at_once(settings, frozen, django_capture_on_commit_callbacks):
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True)
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    (message,) = messages_of(flow)
    assert message.status == "sent"
    assert message.deferrals == 0
    assert len(mail.outbox) == 1


def test_send_time_waits_no_longer_than_the_bound(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True, SEND_TIME_MAX_DELAY_HOURS=4)
    engaged(ContactFactory(email="anna@example.com"), [18, 18, 18])  # 8 hours away
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    assert [m.status for m in messages_of(flow)] == ["sent"]


def test_send_time_is_off_unless_the_setting_is_on(frozen, django_capture_on_commit_callbacks):
    engaged(ContactFactory(email="anna@example.com"), [18, 18, 18])
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    assert [m.status for m in messages_of(flow)] == ["sent"]


def test_a_late_scheduler_does_not_wait_another_day(
    settings, frozen, django_capture_on_commit_callbacks
):
    """Held for 18:00, reached only at 19:30 (the scheduler was down): it goes then."""
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True)
    engaged(ContactFactory(email="anna@example.com"), [18, 18, 18])
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    frozen.set(datetime(2026, 11, 23, 19, 30, tzinfo=UTC))
    run_clock(frozen, days=0)
    (message,) = messages_of(flow)
    assert message.status == "sent"
    assert message.sent_at == datetime(2026, 11, 23, 19, 30, tzinfo=UTC)


def test_held_by_the_cap_into_the_hour_a_late_scheduler_does_not_wait_another_day(
    settings, frozen, django_capture_on_commit_callbacks
):
    """The cap ends at 08:00 tomorrow and her hour is 18:00: held for 18:00 (reason: the
    cap). Reached only at 19:30 (the scheduler was down), it goes then, as an email
    held for its hour alone does; not at 18:00 the day after."""
    pacing_settings(settings, SEND_TIME_OPTIMISATION=True, FREQUENCY_CAP={"emails": 1, "hours": 24})
    anna = ContactFactory(email="anna@example.com")
    engaged(anna, [18, 18, 18])
    engaged(anna, [18], day=datetime(2026, 11, 23, tzinfo=UTC))  # one at 08:00 today
    Flow.objects.update(status=Flow.Status.DRAFT)  # the past emails' flows: not again
    flow = email_flow("tips", optimise_send_time=True)
    with django_capture_on_commit_callbacks(execute=True):
        order("anna@example.com", "1")
    (message,) = messages_of(flow)
    assert message.status == "deferred"
    assert message.deferral_reason == "cap"
    assert message.deferred_until == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    frozen.set(datetime(2026, 11, 24, 19, 30, tzinfo=UTC))
    run_clock(frozen, days=0)
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.sent_at == datetime(2026, 11, 24, 19, 30, tzinfo=UTC)
    assert message.deferrals == 1
