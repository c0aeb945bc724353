"""NotifyStaffStep and SignalStep: once per enrollment, retries, settings fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from postpurchase import engine, signals
from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.models import Enrollment, NotifyStaffStep, StepRecord
from postpurchase.results import Next, Wait
from postpurchase.testing.factories import (
    ContactFactory,
    EnrollmentFactory,
    FlowFactory,
    NotifyStaffStepFactory,
    SignalStepFactory,
)
from tests.core.backends import FlakyBackend

from ..core.helpers import run_due
from .helpers import context, refreshed

pytestmark = pytest.mark.django_db

FLAKY = "tests.core.backends.FlakyBackend"


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = FLAKY
    FlakyBackend.failing = {"team@example.com"}
    yield FlakyBackend
    FlakyBackend.failing = set()


# --- NotifyStaffStep ---------------------------------------------------------------------


def test_notifies_staff_with_the_order_context(frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SITE_URL": "https://shop.example.com/"}
    step = NotifyStaffStepFactory(
        recipients="team@example.com, ops@example.com",
        subject="Order {{ order.number }}\nfrom {{ contact.first_name }}",
        body="{{ contact.first_name }} <{{ contact.email }}> paid {{ order.total }}.\n"
        "{{ admin_url }}",
    )
    contact = ContactFactory(email="o@example.com", first_name="O'Brien & Co")
    enrollment = EnrollmentFactory(flow=step.flow, contact=contact)
    run_due()

    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED
    [email] = mail.outbox
    assert email.to == ["team@example.com", "ops@example.com"]
    assert email.subject == "Order 1001 from O'Brien & Co"  # one line, not escaped
    assert "O'Brien & Co <o@example.com> paid 6970.00." in email.body
    admin = f"https://shop.example.com/admin/postpurchase/enrollment/{enrollment.pk}/change/"
    assert admin in email.body
    assert not getattr(email, "alternatives", None)  # plain text only
    record = StepRecord.objects.get(enrollment=enrollment, step=step)
    assert record.status == StepRecord.Status.DONE
    assert record.detail["to"] == ["team@example.com", "ops@example.com"]
    assert email.extra_headers["Idempotency-Key"] == str(record.pk)


def test_notify_staff_sends_once_when_executed_twice(frozen):
    step = NotifyStaffStepFactory()
    enrollment = EnrollmentFactory(flow=step.flow)
    ctx = context(enrollment, step, frozen.now)
    assert step.execute(ctx) == Next()
    assert step.execute(ctx) == Next()  # a re-run after a crash, say
    run_due()
    assert len(mail.outbox) == 1
    assert StepRecord.objects.count() == 1


def test_notify_staff_retries_with_backoff_on_backend_errors(frozen, flaky):
    step = NotifyStaffStepFactory(recipients="team@example.com")
    enrollment = EnrollmentFactory(flow=step.flow)
    run_due()
    enrollment = refreshed(enrollment)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.due_at == frozen.now + timedelta(seconds=60)
    assert enrollment.attempts == 1
    assert "ESP is down" in enrollment.last_error
    record = StepRecord.objects.get()
    assert (record.status, record.attempts) == (StepRecord.Status.RETRYING, 1)

    frozen.advance(timedelta(seconds=60))
    run_due()
    assert refreshed(enrollment).due_at == frozen.now + timedelta(seconds=120)  # doubled

    flaky.failing = set()
    frozen.advance(timedelta(seconds=120))
    run_due()
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED
    assert len(mail.outbox) == 1
    record.refresh_from_db()
    assert (record.status, record.attempts, record.error) == (StepRecord.Status.DONE, 3, "")


def test_notify_staff_gives_up_after_max_attempts(frozen, flaky, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_SEND_ATTEMPTS": 2}
    step = NotifyStaffStepFactory(recipients="team@example.com")
    enrollment = EnrollmentFactory(flow=step.flow)
    run_due()
    frozen.advance(timedelta(minutes=1))
    run_due()
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED  # the flow goes on
    assert StepRecord.objects.get().status == StepRecord.Status.FAILED
    assert mail.outbox == []


def test_notify_staff_falls_back_to_the_staff_emails_setting(frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": ["care@example.com"]}
    step = NotifyStaffStepFactory(recipients="")
    step.full_clean()
    EnrollmentFactory(flow=step.flow)
    run_due()
    assert [m.to for m in mail.outbox] == [["care@example.com"]]


def test_notify_staff_without_any_recipient_records_a_failure(frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": []}
    step = NotifyStaffStepFactory(recipients="")
    enrollment = EnrollmentFactory(flow=step.flow)
    run_due()
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED
    assert StepRecord.objects.get().error == "no recipients"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"recipients": "team@example.com, not-an-address"}, "recipients"),
        ({"recipients": ""}, "recipients"),
        ({"subject": "Order {{ order.number|nosuchfilter }}"}, "subject"),
        ({"body": "{% if %}"}, "body"),
    ],
)
def test_notify_staff_clean_names_the_bad_field(fields, field, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": []}
    step = NotifyStaffStep(
        flow=FlowFactory(),
        recipients="team@example.com",
        subject="Order {{ order.number }}",
        body="{{ admin_url }}",
    )
    for name, value in fields.items():
        setattr(step, name, value)
    with pytest.raises(ValidationError) as info:
        step.full_clean()
    assert field in info.value.message_dict


def test_notify_staff_clean_tidies_the_recipients():
    step = NotifyStaffStep(
        flow=FlowFactory(), recipients=" a@example.com,,b@example.com ", subject="s", body="b"
    )
    step.full_clean()
    assert step.recipients == "a@example.com, b@example.com"


@pytest.mark.parametrize("value", ["ops@example.com", ["ops@", "x"], [1]])
def test_staff_emails_setting_is_validated(settings, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": value}
    with pytest.raises(PostpurchaseConfigurationError, match="STAFF_EMAILS"):
        get_setting("STAFF_EMAILS")


# --- SignalStep ----------------------------------------------------------------------


@pytest.fixture
def received():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    signals.step_action.connect(receiver)
    yield calls
    signals.step_action.disconnect(receiver)


def test_signal_step_fires_once(frozen, received, django_capture_on_commit_callbacks):
    step = SignalStepFactory(action="award-bonus-points")
    enrollment = EnrollmentFactory(flow=step.flow)
    ctx = context(enrollment, step, frozen.now)
    with django_capture_on_commit_callbacks(execute=True):
        assert step.execute(ctx) == Next()
        # A second run (lease takeover) does not fire again.
        assert step.execute(ctx) == Next()
        engine.run_due()
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED
    [call] = received
    assert call["action"] == "award-bonus-points"
    assert call["enrollment"].pk == enrollment.pk
    assert call["contact"] == enrollment.contact
    assert call["snapshot"]["number"] == "1001"
    assert call["step"] == step
    assert StepRecord.objects.get().detail == {"action": "award-bonus-points"}


def test_signal_step_receiver_error_does_not_stop_the_flow(frozen):
    def broken(sender, **kwargs):
        raise RuntimeError("loyalty service down")

    signals.step_action.connect(broken)
    try:
        step = SignalStepFactory()
        enrollment = EnrollmentFactory(flow=step.flow)
        run_due()
    finally:
        signals.step_action.disconnect(broken)
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED


def test_each_signal_step_and_enrollment_fires_separately(frozen, received):
    flow = FlowFactory()
    SignalStepFactory(flow=flow, position=1, action="first")
    SignalStepFactory(flow=flow, position=2, action="second")
    EnrollmentFactory(flow=flow)
    EnrollmentFactory(flow=flow)
    run_due()
    assert sorted(c["action"] for c in received) == ["first", "first", "second", "second"]


def test_wait_is_the_retry_result(frozen, flaky):
    step = NotifyStaffStepFactory(recipients="team@example.com")
    ctx = context(EnrollmentFactory(flow=step.flow), step, frozen.now)
    result = step.execute(ctx)
    assert isinstance(result, Wait) and result.error
