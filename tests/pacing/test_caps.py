"""The frequency cap and the contact's chosen frequency defer marketing email, across
flows, on the simulated clock; they never drop it (unless its step says to skip it when
too late) and never touch transactional email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from postpurchase import signals
from postpurchase.delivery import step as delivery_step
from postpurchase.models import EmailStep, Enrollment, Message
from postpurchase.models.contacts import Contact, EmailFrequency
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    MessageFactory,
)

from ..core.helpers import place, run_clock
from .helpers import email_flow, listening, messages_of, pacing_settings, place_and_run

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def sent_days(start) -> list[timedelta]:
    return [
        m.sent_at - start
        for m in Message.objects.filter(status="sent", category="marketing").order_by("sent_at")
    ]


def test_three_flows_the_same_day_send_on_three_days_with_a_cap_of_one_a_day(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    flows = [email_flow(name) for name in ("tips", "cross-sell", "review")]
    start = frozen.now
    with listening(signals.message_deferred) as deferred:
        place_and_run(frozen, django_capture_on_commit_callbacks, days=10)

    assert sent_days(start) == [timedelta(0), DAY, 2 * DAY]
    assert len(mail.outbox) == 3, "none dropped, none twice"
    assert Enrollment.objects.filter(status="completed").count() == 3
    by_flow = {flow.slug: messages_of(flow)[0] for flow in flows}
    # Each went once; the later ones say how late and why.
    assert sorted(m.deferrals for m in by_flow.values()) == [0, 1, 2]
    for message in by_flow.values():
        assert message.status == "sent"
        if message.deferrals:
            assert message.deferral_reason == "cap"
            assert message.wanted_at == start
            assert message.deferred_until == message.sent_at
    # A deferral is announced, with the moment it may go: 2 at first, 1 a day later.
    assert [(d["until"] - start, d["reason"]) for d in deferred] == [
        (DAY, "cap"),
        (DAY, "cap"),
        (2 * DAY, "cap"),
    ]


def test_deferred_emails_do_not_count_as_sent(settings, frozen, django_capture_on_commit_callbacks):
    """Two emails deferred to the same moment: one goes then, not neither (a deferred
    one is not counted) and not both (the first is counted once it is being sent)."""
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    email_flow("a")
    email_flow("b")
    email_flow("c")
    start = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        place()
    frozen.set(start + DAY)
    run_clock(frozen, days=0)
    assert sent_days(start) == [timedelta(0), DAY]
    assert Message.objects.filter(status="deferred").count() == 1


def test_a_cap_of_two_in_24_hours(settings, frozen, django_capture_on_commit_callbacks):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 2, "hours": 24})
    for name in "abcde":
        email_flow(name)
    start = frozen.now
    place_and_run(frozen, django_capture_on_commit_callbacks, days=10)
    assert sent_days(start) == [timedelta(0), timedelta(0), DAY, DAY, 2 * DAY]


def test_skip_if_deferred_too_long_skips_and_goes_on(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 72})
    email_flow("first")
    sale = email_flow("flash-sale", skip_if_deferred_days=1)
    start = frozen.now
    with listening(signals.message_skipped) as skipped:
        place_and_run(frozen, django_capture_on_commit_callbacks, days=10)

    (message,) = messages_of(sale)
    assert message.status == "skipped"
    assert message.deferral_reason == "cap"
    assert message.deferred_until == start + timedelta(hours=72)
    assert "Skipped" in message.error
    assert [s["reason"] for s in skipped] == ["cap"]
    # The flow went on past the skipped email, and nothing else was sent.
    assert Enrollment.objects.get(flow=sale).status == "completed"
    assert len(mail.outbox) == 1


def test_skip_keeps_an_email_that_is_only_a_little_late(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    email_flow("first")
    tips = email_flow("tips", skip_if_deferred_days=3)
    place_and_run(frozen, django_capture_on_commit_callbacks, days=10)
    (message,) = messages_of(tips)
    assert message.status == "sent"
    assert message.sent_at - message.wanted_at == DAY


def test_transactional_email_ignores_the_cap_and_does_not_count(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(
        settings,
        FREQUENCY_CAP={"emails": 1, "hours": 24},
        QUIET_HOURS={"start": 0, "end": 23},
    )
    receipt = email_flow("receipt", category=EmailStep.Category.TRANSACTIONAL)
    status = email_flow("status", category=EmailStep.Category.TRANSACTIONAL)
    with django_capture_on_commit_callbacks(execute=True):
        place()
    assert [m.status for m in messages_of(receipt) + messages_of(status)] == ["sent", "sent"]
    assert all(m.deferrals == 0 and m.wanted_at is None for m in Message.objects.all())


def test_transactional_mail_sent_before_leaves_the_marketing_slot(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    email_flow("receipt", category=EmailStep.Category.TRANSACTIONAL)
    tips = email_flow("tips")
    with django_capture_on_commit_callbacks(execute=True):
        place()
    assert [m.status for m in messages_of(tips)] == ["sent"]


@pytest.mark.parametrize(
    ("frequency", "gap"),
    [(EmailFrequency.WEEKLY, timedelta(days=7)), (EmailFrequency.MONTHLY, timedelta(days=30))],
)
def test_the_contacts_own_frequency_is_honoured(
    frequency, gap, frozen, django_capture_on_commit_callbacks
):
    email_flow("a")
    email_flow("b")
    email_flow("receipt", category=EmailStep.Category.TRANSACTIONAL)
    Contact.objects.create(email="anna@example.com", email_frequency=frequency)
    start = frozen.now
    place_and_run(frozen, django_capture_on_commit_callbacks, days=40)
    assert sent_days(start) == [timedelta(0), gap]
    later = Message.objects.get(category="marketing", deferrals=1)
    assert later.deferral_reason == "frequency"
    assert Message.objects.get(category="transactional").sent_at == start


def test_everything_means_no_limit_of_its_own(frozen, django_capture_on_commit_callbacks):
    email_flow("a")
    email_flow("b")
    with django_capture_on_commit_callbacks(execute=True):
        place()
    assert Message.objects.filter(status="sent").count() == 2


def test_the_stricter_rule_wins_and_is_the_reason(
    settings, frozen, django_capture_on_commit_callbacks
):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    email_flow("a")
    email_flow("b")
    Contact.objects.create(email="anna@example.com", email_frequency=EmailFrequency.WEEKLY)
    start = frozen.now
    place_and_run(frozen, django_capture_on_commit_callbacks, days=10)
    assert sent_days(start) == [timedelta(0), timedelta(days=7)]
    assert Message.objects.get(deferrals=1).deferral_reason == "frequency"


def test_another_workers_email_marked_meanwhile_defers_at_the_mark(
    settings, frozen, monkeypatch, django_capture_on_commit_callbacks
):
    """Two workers sending to one contact at once: the second rechecks the cap under the
    contact's row lock when it marks its email, finds the first's being sent, and defers
    instead of going over the cap."""
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    other = email_flow("other")
    tips = email_flow("tips")
    start = frozen.now
    contact = ContactFactory(email="anna@example.com")  # an existing customer
    theirs = EnrollmentFactory(flow=other, contact=contact, due_at=frozen.now + DAY)
    real_plan = delivery_step.pacing.plan

    def plan_then_other_worker_marks(step, contexts, messages, now, cache=None):
        paces = real_plan(step, contexts, messages, now, cache)
        MessageFactory(enrollment=theirs, status="sending", attempted_at=now, created_at=now)
        return paces

    monkeypatch.setattr(delivery_step.pacing, "plan", plan_then_other_worker_marks)
    EnrollmentFactory(flow=tips, contact=contact)
    run_clock(frozen, days=0)
    (message,) = messages_of(tips)
    assert message.status == "deferred"
    assert message.deferred_until == start + DAY
    assert mail.outbox == []
    assert Enrollment.objects.get(flow=tips).due_at == start + DAY


def test_a_transactional_step_refuses_the_pacing_options():
    step = EmailStepFactory(
        category=EmailStep.Category.TRANSACTIONAL, skip_if_deferred_days=2, optimise_send_time=True
    )
    with pytest.raises(ValidationError) as raised:
        step.clean()
    assert set(raised.value.message_dict) == {"skip_if_deferred_days", "optimise_send_time"}
    step.category = EmailStep.Category.MARKETING
    step.clean()
