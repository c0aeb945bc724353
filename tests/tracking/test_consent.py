"""ESP bounces, complaints and unsubscribes stop mail; opens and clicks steer conditions."""

from __future__ import annotations

import pytest

from postpurchase import signals
from postpurchase.models import Contact, Message, MessageEvent
from postpurchase.testing.factories import (
    ConditionStepFactory,
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    SignalStepFactory,
)

from ..core.helpers import run_due
from .conftest import sent_message
from .payloads import ESPS

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")


@pytest.fixture
def heard():
    got = []

    def receiver(sender, signal, **kwargs):
        got.append((signal, kwargs))

    watched = (signals.contact_suppressed, signals.message_bounced, signals.message_complained)
    for signal in watched:
        signal.connect(receiver)
    yield got
    for signal in watched:
        signal.disconnect(receiver)


@pytest.mark.parametrize("esp", ESPS)
def test_a_hard_bounce_suppresses_the_address(post, esp, heard):
    message = sent_message()
    post(esp, "bounced", message)
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.suppressed_at is not None
    assert contact.suppression_reason == "hard_bounce"
    assert not contact.accepts("transactional")
    assert [s for s, _ in heard] == [signals.contact_suppressed, signals.message_bounced]
    assert heard[1][1]["hard"] is True


@pytest.mark.parametrize("esp", ["sendgrid", "mailgun", "postmark", "brevo", "resend"])
def test_a_soft_bounce_does_not_suppress(post, esp):
    message = sent_message()
    post(esp, "soft_bounced", message)
    assert MessageEvent.objects.get().kind in ("bounced", "deferred")
    assert Contact.objects.get(pk=message.contact_id).suppressed_at is None


@pytest.mark.parametrize("esp", ESPS)
def test_a_spam_complaint_suppresses_the_address(post, esp, heard):
    message = sent_message()
    post(esp, "complained", message)
    contact = Contact.objects.get(pk=message.contact_id)
    assert (contact.suppressed_at is not None, contact.suppression_reason) == (True, "complaint")
    assert signals.message_complained in [s for s, _ in heard]


def test_a_reject_as_invalid_suppresses_the_address(post):
    message = sent_message()
    post("sendgrid", "rejected", message)
    contact = Contact.objects.get(pk=message.contact_id)
    assert (contact.suppressed_at is not None, contact.suppression_reason) == (True, "invalid")


def test_a_bounce_of_an_unmatched_email_suppresses_the_known_address(post):
    contact = ContactFactory(email="anna@example.com")
    post("mailgun", "bounced", recipient="Anna@Example.com", metadata={})
    assert MessageEvent.objects.get().message_id is None
    contact.refresh_from_db()
    assert contact.suppression_reason == "hard_bounce"


def test_a_suppressed_address_gets_no_more_email(post, frozen):
    message = sent_message()
    post("postmark", "bounced", message)
    flow = FlowFactory()
    EmailStepFactory(flow=flow, position=1, category="transactional")
    enrollment = EnrollmentFactory(flow=flow, contact=message.contact)
    run_due()
    later = Message.objects.get(enrollment=enrollment)
    assert later.status == "suppressed"
    assert later.sent_at is None


@pytest.mark.parametrize("esp", [e for e in ESPS if e != "resend"])
def test_an_esp_unsubscribe_unsubscribes_from_marketing(post, esp):
    message = sent_message()
    heard = []
    signals.unsubscribed.connect(receiver := lambda sender, **kw: heard.append(kw))
    try:
        post(esp, "unsubscribed", message)
    finally:
        signals.unsubscribed.disconnect(receiver)
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.unsubscribed_at is not None
    assert contact.suppressed_at is None  # transactional mail still goes out
    assert contact.accepts("transactional") and not contact.accepts("marketing")
    assert [kw["source"] for kw in heard] == ["esp"]


def test_the_first_suppression_reason_stays(post):
    message = sent_message()
    post("sendgrid", "complained", message)
    post("sendgrid", "bounced", message, event_id="sg-event-2")
    assert Contact.objects.get(pk=message.contact_id).suppression_reason == "complaint"


# --- ConditionStep's opened / clicked branches ---------------------------------------


@pytest.fixture
def actions_fired():
    fired = []

    def receiver(sender, action, **kwargs):
        fired.append(action)

    signals.step_action.connect(receiver)
    yield fired
    signals.step_action.disconnect(receiver)


def waiting_at_condition(check):
    """A sent email whose enrollment waits at condition(check): then "engaged", else
    "reminder" (and then "engaged")."""
    flow = FlowFactory()
    condition = ConditionStepFactory(
        flow=flow, position=2, condition=check, then_action="jump", else_action="continue"
    )
    SignalStepFactory(flow=flow, position=3, action="reminder")
    engaged = SignalStepFactory(flow=flow, position=4, action="engaged")
    condition.then_step = engaged
    condition.save()
    message = sent_message(flow=flow)
    enrollment = message.enrollment
    enrollment.step = condition
    enrollment.save()
    return message


@pytest.mark.parametrize("check", ["opened", "clicked"])
@pytest.mark.parametrize("esp", ESPS)
@pytest.mark.parametrize("reported", ["opened", "clicked", "delivered", None])
def test_condition_branches_on_what_the_esp_reported(
    post, frozen, actions_fired, check, esp, reported
):
    """email (sent) -> condition(check): then "engaged", else "reminder"."""
    message = waiting_at_condition(check)
    if reported:
        post(esp, reported, message)
    run_due()
    took_then = reported == check or (check == "opened" and reported == "clicked")
    assert actions_fired == (["engaged"] if took_then else ["reminder", "engaged"])


@pytest.mark.parametrize("check", ["opened", "clicked"])
@pytest.mark.parametrize("esp", ESPS)
def test_a_machine_only_open_or_click_takes_the_not_engaged_way(
    post, frozen, actions_fired, check, esp
):
    """A privacy proxy's prefetch or a scanner's click is recorded (as a machine's) but
    does not make the email opened or clicked; a person's open afterwards does."""
    message = waiting_at_condition(check)
    post(esp, "machine", message)
    event = MessageEvent.objects.get()
    assert event.machine and event.machine_reason
    message.refresh_from_db()
    assert (message.opened_at, message.clicked_at) == (None, None)
    assert message.machine_opens + message.machine_clicks == 1
    assert message.opens == message.clicks == 0
    run_due()
    assert actions_fired == ["reminder", "engaged"]
