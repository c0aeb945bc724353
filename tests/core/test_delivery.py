"""Sending: headers, retries on ESP errors, template errors, suppression."""

from __future__ import annotations

import email
from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import engine, signals
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import (
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
)

from .backends import CrashAfterAcceptBackend, FlakyBackend, SimulatedCrash
from .helpers import run_due

pytestmark = pytest.mark.django_db

FLAKY = "tests.core.backends.FlakyBackend"


@pytest.fixture
def flow():
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="transactional")
    return flow


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = FLAKY
    FlakyBackend.failing = set()
    yield FlakyBackend
    FlakyBackend.failing = set()


def test_esp_failure_is_retried_recorded_and_spares_others(flow, flaky, frozen):
    bad = EnrollmentFactory(flow=flow, contact__email="bad@example.com")
    good = EnrollmentFactory(flow=flow, contact__email="good@example.com")
    flaky.failing = {"bad@example.com"}
    failures = []
    signals.message_failed.connect(
        lambda sender, **kw: failures.append(kw), weak=False, dispatch_uid="t"
    )
    try:
        assert run_due() == 2
    finally:
        signals.message_failed.disconnect(dispatch_uid="t")

    assert Message.objects.get(enrollment=good).status == "sent"
    failed = Message.objects.get(enrollment=bad)
    assert failed.status == "retrying"
    assert "ESP is down" in failed.error
    assert failed.attempts == 1
    assert failures and failures[0]["final"] is False
    bad.refresh_from_db()
    assert bad.status == Enrollment.Status.ACTIVE
    assert bad.due_at == frozen.now + timedelta(seconds=60)
    assert "ESP is down" in bad.last_error

    # Still failing: backoff doubles. Then the ESP recovers and the same message goes out.
    frozen.set(bad.due_at)
    engine.run_due()
    bad.refresh_from_db()
    assert bad.due_at == frozen.now + timedelta(seconds=120)
    flaky.failing = set()
    frozen.set(bad.due_at)
    engine.run_due()
    failed.refresh_from_db()
    assert failed.status == "sent"
    assert failed.attempts == 3
    assert Message.objects.filter(enrollment=bad).count() == 1
    bad.refresh_from_db()
    assert bad.status == Enrollment.Status.COMPLETED


def test_gives_up_after_max_attempts_and_goes_on(flow, flaky, frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_SEND_ATTEMPTS": 2}
    enrollment = EnrollmentFactory(flow=flow, contact__email="bad@example.com")
    flaky.failing = {"bad@example.com"}
    engine.run_due()
    frozen.advance(timedelta(hours=1))
    engine.run_due()
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.attempts == 2
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


def test_template_error_fails_that_step_not_the_batch(frozen):
    broken = FlowFactory()
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(
        template=template,
        body="<mjml><mj-body>\n{% if %}\n</mj-body></mjml>",
    )
    EmailStepFactory(flow=broken, template=template, name="Broken step")
    fine = FlowFactory()
    EmailStepFactory(flow=fine)
    bad = EnrollmentFactory(flow=broken)
    good = EnrollmentFactory(flow=fine)

    assert engine.run_due() == 2

    bad.refresh_from_db()
    assert bad.status == Enrollment.Status.FAILED
    assert "Broken step" in bad.last_error
    assert "line 2" in bad.last_error
    message = Message.objects.get(enrollment=bad)
    assert message.status == "failed"
    assert template.slug in message.error
    assert Message.objects.get(enrollment=good).status == "sent"
    assert len(mail.outbox) == 1


def test_render_time_error_is_reported_too(frozen):
    flow = FlowFactory()
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, body="{% include 'no/such/template.mjml' %}")
    EmailStepFactory(flow=flow, template=template)
    enrollment = EnrollmentFactory(flow=flow)
    engine.run_due()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "no/such/template.mjml" in enrollment.last_error


def test_invalid_mjml_is_reported(frozen):
    flow = FlowFactory()
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, body="<mjml><mj-body><mj-section>")
    EmailStepFactory(flow=flow, template=template)
    enrollment = EnrollmentFactory(flow=flow)
    engine.run_due()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "MJML" in enrollment.last_error


def test_customer_values_are_data_not_template_source(frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    EnrollmentFactory(
        flow=flow,
        contact__first_name="{{ 7|add:3 }} <script>x</script>",
    )
    engine.run_due()
    html = mail.outbox[0].alternatives[0][0]
    assert "&lt;script&gt;" in html
    assert "<script>x" not in html
    assert "{{ 7|add:3 }}" in mail.outbox[0].subject  # shown as typed, never evaluated
    assert "10" not in mail.outbox[0].subject


def test_subject_cannot_inject_headers(frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    EnrollmentFactory(flow=flow, contact__first_name="Anna\r\nBcc: evil@example.com")
    engine.run_due()
    assert Message.objects.get().status == "sent"
    assert "\n" not in mail.outbox[0].subject
    assert mail.outbox[0].bcc == []
    assert "\n" not in mail.outbox[0].to[0]
    parsed = email.message_from_string(mail.outbox[0].message().as_string())
    assert parsed["Bcc"] is None
    assert parsed.get_all("To") == [
        '"Anna Bcc: evil@example.com" <customer@example.com>'.replace(
            "customer@", f"{Message.objects.get().to_email.split('@')[0]}@"
        )
    ]


def test_idempotency_key_and_metadata(flow, frozen):
    EnrollmentFactory(flow=flow)
    engine.run_due()
    message = Message.objects.get()
    sent = mail.outbox[0]
    assert sent.extra_headers["Idempotency-Key"] == str(message.pk)
    assert sent.metadata == {
        "postpurchase_message": str(message.pk),
        "postpurchase_flow": str(flow.pk),
        "postpurchase_step": str(message.step_id),
    }
    # One tag by default: Postmark, Amazon SES and others refuse more.
    assert sent.tags == ["transactional"]
    assert message.esp_message_id != ""
    assert message.esp_name == "test"
    assert "List-Unsubscribe" not in sent.extra_headers  # transactional


def test_text_part_is_readable(flow, frozen):
    EnrollmentFactory(flow=flow)
    engine.run_due()
    text = mail.outbox[0].body
    assert "Hello Anna!" in text
    assert "Product 1 x2" in text
    assert "<" not in text


@pytest.fixture
def crash_after_accept(settings):
    settings.EMAIL_BACKEND = "tests.core.backends.CrashAfterAcceptBackend"
    CrashAfterAcceptBackend.armed = True
    yield
    CrashAfterAcceptBackend.armed = False


def test_a_crash_after_the_esp_accepted_is_resent_marked_as_a_possible_duplicate(
    flow, frozen, crash_after_accept
):
    """The worker dies right after the ESP accepted the email, before it recorded the
    answer: the message stays "sending" (marked before the ESP call). Whoever runs the
    step next cannot know whether it left, so it sends it again (UNKNOWN_OUTCOME
    "resend", the default), never silently: the message is marked a possible duplicate,
    and both copies carry the same Idempotency-Key for ESPs that drop repeats."""
    enrollment = EnrollmentFactory(flow=flow)
    with pytest.raises(SimulatedCrash):
        engine.run_due()
    assert len(mail.outbox) == 1
    message = Message.objects.get()
    assert (message.status, message.attempts, message.possible_duplicate_at) == (
        "sending",
        1,
        None,
    )
    # Not claimable while the dead worker's lease holds.
    assert engine.run_due() == 0
    assert len(mail.outbox) == 1
    frozen.advance(timedelta(minutes=6))
    assert engine.run_due() == 1
    message.refresh_from_db()
    assert len(mail.outbox) == 2
    assert (message.status, message.attempts) == ("sent", 2)
    assert message.possible_duplicate_at == frozen.now
    keys = [sent.extra_headers["Idempotency-Key"] for sent in mail.outbox]
    assert keys == [str(message.pk), str(message.pk)]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


def test_a_crash_after_the_esp_accepted_is_held_when_told_to(
    flow, frozen, crash_after_accept, settings
):
    """UNKNOWN_OUTCOME "hold": the message is not sent again by itself; it waits for
    staff as "unknown" and the series goes on."""
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "UNKNOWN_OUTCOME": "hold"}
    enrollment = EnrollmentFactory(flow=flow)
    with pytest.raises(SimulatedCrash):
        engine.run_due()
    frozen.advance(timedelta(minutes=6))
    assert engine.run_due() == 1
    assert len(mail.outbox) == 1
    message = Message.objects.get()
    assert message.status == "unknown"
    assert "may have been delivered" in message.error
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


def test_fixed_template_is_sent_when_staff_retry(frozen, django_capture_on_commit_callbacks):
    flow = FlowFactory()
    template = EmailTemplateFactory(languages=[])
    content = EmailContentFactory(template=template, body="{% if %}")
    EmailStepFactory(flow=flow, template=template)
    enrollment = EnrollmentFactory(flow=flow)
    engine.run_due()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    content.body = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Fixed</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    content.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert engine.retry(enrollment) is True
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    message = Message.objects.get()
    assert message.status == "sent"
    assert "Fixed" in mail.outbox[0].body
    assert engine.retry(enrollment) is False  # completed: nothing to retry


def test_a_raising_receiver_does_not_undo_a_sent_email(flow, frozen, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("CRM is down")

    signals.message_sent.connect(broken, weak=False, dispatch_uid="broken")
    try:
        enrollment = EnrollmentFactory(flow=flow)
        run_due()
    finally:
        signals.message_sent.disconnect(dispatch_uid="broken")
    assert Message.objects.get().status == "sent"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert "CRM is down" in caplog.text


def test_staff_exit_stops_the_series(frozen):
    flow = FlowFactory()
    from postpurchase.testing.factories import DelayStepFactory

    DelayStepFactory(flow=flow, position=1)
    EmailStepFactory(flow=flow, position=2)
    enrollment = EnrollmentFactory(flow=flow)
    engine.run_due()
    assert engine.exit_enrollment(enrollment) is True
    frozen.advance(timedelta(days=2))
    engine.run_due()
    assert Message.objects.count() == 0
    assert engine.exit_enrollment(enrollment) is False


def test_subject_is_plain_text_not_html_escaped(frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    EnrollmentFactory(flow=flow, contact__first_name="O'Brien & Co <3")
    engine.run_due()
    assert mail.outbox[0].subject.endswith("for O'Brien & Co <3")
    assert "O&#x27;Brien &amp; Co &lt;3" in mail.outbox[0].alternatives[0][0]
