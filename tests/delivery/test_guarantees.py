"""Delivery guarantees through Anymail's real Postmark backend (HTTP faked): outages,
staff resends, poisoned enrollments, lost leases, crashes and SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from postpurchase import engine, shutdown
from postpurchase.adapters import BaseAdapter
from postpurchase.delivery import batch as delivery_batch
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import (
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
)

from .conftest import postmark_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow():
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="transactional")
    return flow


def enroll(flow, n: int, **kwargs) -> list[Enrollment]:
    return [
        EnrollmentFactory(flow=flow, contact__email=f"c{i}@example.com", **kwargs) for i in range(n)
    ]


def drain(clock, until: timedelta, on_tick=None) -> None:
    """Run due work from due time to due time on the simulated clock, for ``until``."""
    start = clock.now
    for _ in range(200):
        if on_tick is not None:
            on_tick(clock.now - start)
        engine.run_due()
        nxt = engine.next_due_at()
        if nxt is None or nxt > start + until:
            return
        clock.set(max(nxt, clock.now))


def test_a_ten_minute_outage_loses_nothing(flow, postmark, frozen):
    enroll(flow, 5)
    postmark.answer = postmark_error(503, message="Service unavailable")

    def recover(elapsed):
        if elapsed >= timedelta(minutes=10):
            postmark.answer = postmark.ok

    drain(frozen, timedelta(hours=2), on_tick=recover)

    received = postmark.message_ids()
    assert len(received) == 5 and set(received.values()) == {1}
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    # Backoff 1, 2, 4, 8 minutes: the fifth attempt, at +15 min, got through.
    assert set(Message.objects.values_list("attempts", flat=True)) == {5}
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}


def test_failed_after_the_last_attempt_is_resent_by_the_admin_and_the_command(
    flow, postmark, frozen, settings, admin_client
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_SEND_ATTEMPTS": 2}
    enroll(flow, 3)
    postmark.answer = postmark_error(503)
    drain(frozen, timedelta(hours=1))
    assert set(Message.objects.values_list("status", flat=True)) == {"failed"}
    # The series went on without them: the enrollments are done.
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}

    postmark.answer = postmark.ok
    first, *rest = Message.objects.order_by("to_email")
    response = admin_client.post(
        reverse("admin:postpurchase_message_changelist"),
        {"action": "resend_selected", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 sent" in response.content.decode()
    first.refresh_from_db()
    assert first.status == "sent" and first.possible_duplicate_at is None

    call_command("postpurchase_resend")
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    received = postmark.message_ids()
    assert len(received) == 3 and set(received.values()) == {1}
    # Nothing left to resend: a second run sends nothing.
    call_command("postpurchase_resend")
    assert sum(postmark.message_ids().values()) == 3


class FlakyAdapter(BaseAdapter):
    """recommendations() fails for chosen order numbers (its shop database is down)."""

    failing: set[str] = set()

    def recommendations(self, snapshot, limit=3):
        if str(snapshot.get("number")) in self.failing:
            raise ConnectionError("shop database unavailable")
        return [{"name": "Rain cover", "url": "https://shop.example/p/cover"}]


@pytest.fixture
def flaky_adapter(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.delivery.test_guarantees.FlakyAdapter",
    }
    FlakyAdapter.failing = set()
    yield FlakyAdapter
    FlakyAdapter.failing = set()


@pytest.fixture
def recommending_flow():
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(
        template=template,
        body=(
            "<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ contact.first_name }}"
            "{% for r in recommendations %} {{ r.name }}{% endfor %}"
            "</mj-text></mj-column></mj-section></mj-body></mjml>"
        ),
    )
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=template, category="transactional")
    return flow


def test_poisoned_enrollments_fail_alone_while_the_batch_is_sent(
    recommending_flow, postmark, frozen, settings, flaky_adapter, monkeypatch, caplog
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_STEP_ATTEMPTS": 3}
    good = enroll(recommending_flow, 4)
    raising = EnrollmentFactory(
        flow=recommending_flow,
        contact__email="adapter@example.com",
        snapshot={"number": "666", "email": "adapter@example.com", "items": []},
    )
    flaky_adapter.failing = {"666"}
    bad_locale = EnrollmentFactory(
        flow=recommending_flow,
        contact__email="locale@example.com",
        contact__locale="",
        snapshot={"number": "7", "email": "locale@example.com", "locale": 42, "items": []},
    )
    # A coupon that cannot be issued stands for any error while preparing one email.
    from postpurchase.delivery import step as delivery_step

    real_prepare = delivery_step.render_template

    def render(template, language, context, cache=None):
        if context["contact"].email == "c2@example.com":
            raise RuntimeError("coupon service down")
        return real_prepare(template, language, context, cache=cache)

    monkeypatch.setattr(delivery_step, "render_template", render)

    engine.run_due()
    # The failure is logged by ids: no customer's address reaches the log.
    assert "coupon service down" in caplog.text
    assert "@example.com" not in caplog.text

    sent = set(Message.objects.filter(status="sent").values_list("to_email", flat=True))
    # Everyone else in the batch got their email, the bad locale in the fallback language.
    assert sent == {"c0@example.com", "c1@example.com", "c3@example.com", "locale@example.com"}
    assert Message.objects.get(enrollment=bad_locale).language == "en"
    for enrollment in good:
        enrollment.refresh_from_db()
        if enrollment.contact.email != "c2@example.com":
            assert enrollment.status == "completed" and enrollment.last_error == ""
    raising.refresh_from_db()
    assert raising.status == "active" and "shop database unavailable" in raising.last_error

    drain(frozen, timedelta(days=1))
    raising.refresh_from_db()
    assert raising.status == "failed"
    assert "failed 3 times" in raising.last_error and "shop database" in raising.last_error
    coupon_victim = Enrollment.objects.get(contact__email="c2@example.com")
    assert coupon_victim.status == "failed" and "coupon service down" in coupon_victim.last_error
    assert sum(postmark.message_ids().values()) == 4


def test_a_transient_adapter_error_is_retried_not_a_template_failure(
    recommending_flow, postmark, frozen, flaky_adapter
):
    enrollment = EnrollmentFactory(flow=recommending_flow, snapshot={"number": "9", "items": []})
    flaky_adapter.failing = {"9"}
    engine.run_due()
    message = Message.objects.get()
    assert message.status == "retrying" and "recommendations()" in message.error
    enrollment.refresh_from_db()
    assert enrollment.status == "active" and enrollment.attempts == 1

    flaky_adapter.failing = set()
    frozen.set(enrollment.due_at)
    engine.run_due()
    message.refresh_from_db()
    assert message.status == "sent"
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_lease_sends_nothing_more(flow, postmark, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 1}
    enroll(flow, 3)
    thief = uuid.uuid4()

    def take_over(payload):
        # While the first email is with the ESP, another worker claims the batch (as
        # after an expired lease), from its own database connection.
        if len(postmark.received) == 1:
            Enrollment.objects.update(lease_token=thief, lease_expires_at=timezone.now())
            connection.close()

    postmark.on_receive = take_over
    engine.run_due(max_batches=1)
    postmark.on_receive = None

    assert sum(postmark.message_ids().values()) == 1
    assert Message.objects.filter(status="sent").count() == 1
    # The others were never handed to the ESP (no attempt marked on them: a fresh
    # message gets its row at its mark), and the thief's claim stands.
    assert Message.objects.count() == 1
    assert set(Enrollment.objects.values_list("lease_token", flat=True)) == {thief}

    # The new owner sends the rest: each email once.
    Enrollment.objects.update(lease_token=None, lease_expires_at=None)
    engine.run_due()
    received = postmark.message_ids()
    assert len(received) == 3 and set(received.values()) == {1}


class SimulatedCrash(BaseException):
    """Stands for kill -9: nothing catches it, nothing after it runs."""


def crash_before_recording(monkeypatch):
    real = delivery_batch.write_outcomes

    def write_outcomes(jobs, now):
        if any(job.outcome.kind == "sent" for job in jobs):
            raise SimulatedCrash
        return real(jobs, now)

    monkeypatch.setattr(delivery_batch, "write_outcomes", write_outcomes)


def test_a_crash_between_the_answer_and_the_record_marks_a_possible_duplicate(
    flow, postmark, frozen, monkeypatch
):
    enrollment = EnrollmentFactory(flow=flow)
    crash_before_recording(monkeypatch)
    with pytest.raises(SimulatedCrash):
        engine.run_due()
    message = Message.objects.get()
    assert message.status == "sending" and message.attempted_at == frozen.now
    monkeypatch.undo()

    frozen.advance(timedelta(minutes=6))  # the dead worker's lease expires
    engine.run_due()
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.possible_duplicate_at == frozen.now
    assert postmark.message_ids() == {str(message.pk): 2}
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_unknown_outcome_can_be_held_for_staff(flow, postmark, frozen, settings, monkeypatch):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "UNKNOWN_OUTCOME": "hold"}
    EnrollmentFactory(flow=flow)
    crash_before_recording(monkeypatch)
    with pytest.raises(SimulatedCrash):
        engine.run_due()
    monkeypatch.undo()
    frozen.advance(timedelta(minutes=6))
    engine.run_due()
    message = Message.objects.get()
    assert message.status == "unknown" and "may have been delivered" in message.error
    assert sum(postmark.message_ids().values()) == 1  # not sent again by itself

    call_command("postpurchase_resend", "--unknown")
    message.refresh_from_db()
    assert message.status == "sent" and message.possible_duplicate_at is not None
    assert sum(postmark.message_ids().values()) == 2


def test_sigterm_during_a_drain_loses_and_duplicates_nothing(flow, postmark, frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 4}
    enroll(flow, 40)
    seen = []

    def terminate(payload):
        seen.append(payload)
        if len(seen) == 5:
            shutdown.request_stop()  # as the SIGTERM handler does

    postmark.on_receive = terminate
    engine.run_due()
    postmark.on_receive = None
    sent_before = sum(postmark.message_ids().values())
    assert 5 <= sent_before < 40
    # Everything the ESP got is recorded as sent; nothing is left "sending".
    assert Message.objects.filter(status="sent").count() == sent_before
    assert not Message.objects.filter(status="sending").exists()
    assert Enrollment.objects.filter(status="active").count() == 40 - sent_before

    shutdown.clear()  # the next worker
    frozen.advance(timedelta(seconds=5))
    engine.run_due()
    received = postmark.message_ids()
    assert len(received) == 40 and set(received.values()) == {1}
    assert not Message.objects.filter(possible_duplicate_at__isnull=False).exists()


def test_a_step_that_raises_for_one_enrollment_retries_it_alone_then_fails_it(
    frozen, settings, monkeypatch
):
    from postpurchase.models import ConditionStep
    from postpurchase.testing.factories import ConditionStepFactory

    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_STEP_ATTEMPTS": 2}
    flow = FlowFactory()
    ConditionStepFactory(flow=flow, position=1)
    EmailStepFactory(flow=flow, position=2, category="transactional")
    victims = enroll(flow, 3)
    real = ConditionStep.execute

    def execute(self, ctx):
        if ctx.contact.email == "c1@example.com":
            raise KeyError("loyalty_points")  # a bug in a custom step, for one order
        return real(self, ctx)

    monkeypatch.setattr(ConditionStep, "execute", execute)
    engine.run_due()
    statuses = {e.contact.email: e for e in Enrollment.objects.select_related("contact")}
    assert statuses["c0@example.com"].status == "completed"
    assert statuses["c2@example.com"].status == "completed"
    culprit = statuses["c1@example.com"]
    assert culprit.status == "active" and culprit.attempts == 1
    assert "KeyError" in culprit.last_error
    frozen.set(culprit.due_at)
    engine.run_due()
    culprit.refresh_from_db()
    assert culprit.status == "failed" and "failed 2 times" in culprit.last_error
    assert len(victims) == 3


def test_a_batch_that_raises_as_a_whole_is_run_one_by_one(flow, postmark, frozen, monkeypatch):
    from postpurchase.delivery import step as delivery_step

    enroll(flow, 3)
    real = delivery_step.ensure_messages

    def ensure(step, contexts):
        if any(ctx.contact.email == "c1@example.com" for ctx in contexts):
            raise RuntimeError("bad row in this batch")
        return real(step, contexts)

    monkeypatch.setattr(delivery_step, "ensure_messages", ensure)
    engine.run_due()
    assert set(Message.objects.values_list("to_email", flat=True)) == {
        "c0@example.com",
        "c2@example.com",
    }
    assert sum(postmark.message_ids().values()) == 2
    culprit = Enrollment.objects.get(contact__email="c1@example.com")
    assert culprit.status == "active" and "bad row" in culprit.last_error


@pytest.mark.django_db(transaction=True)
def test_sigterm_to_the_scheduler_command_finishes_what_is_in_flight(flow, postmark, settings):
    """A real SIGTERM to the real command, mid-drain (as systemctl restart sends it)."""
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 4}
    enroll(flow, 40)
    seen = []

    def terminate(payload):
        seen.append(payload)
        if len(seen) == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    postmark.on_receive = terminate
    # Should the ESP never be reached, stop the command anyway (bounded in time).
    safety = threading.Timer(30, os.kill, args=(os.getpid(), signal.SIGTERM))
    safety.start()
    out = io.StringIO()
    try:
        call_command("postpurchase_scheduler", "--interval", "0.05", stdout=out)
    finally:
        safety.cancel()
        postmark.on_receive = None
    assert "Stopped." in out.getvalue()
    sent = sum(postmark.message_ids().values())
    assert 5 <= sent < 40
    assert set(postmark.message_ids().values()) == {1}
    assert Message.objects.filter(status="sent").count() == sent
    assert not Message.objects.filter(status="sending").exists()
    # The handler is gone again: this process is not left ignoring SIGTERM.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


def test_an_interrupted_resend_leaves_nothing_stranded(flow, postmark, frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_SEND_ATTEMPTS": 1}
    enroll(flow, 3)
    postmark.answer = postmark_error(503)
    engine.run_due()
    assert set(Message.objects.values_list("status", flat=True)) == {"failed"}
    postmark.answer = postmark.ok

    def interrupt(payload):
        raise KeyboardInterrupt  # Ctrl+C while the first resend is with the ESP

    postmark.on_receive = interrupt
    with pytest.raises(KeyboardInterrupt):
        call_command("postpurchase_resend")
    postmark.on_receive = None
    # Nothing is left queued or sending, where no one would look for it again.
    assert not Message.objects.filter(status__in=["queued", "sending", "retrying"]).exists()
    call_command("postpurchase_resend", "--unknown")
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_a_database_error_mid_batch_records_what_the_esp_already_has(
    flow, postmark, frozen, settings, monkeypatch
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 2}
    enroll(flow, 6)
    real = delivery_batch.mark
    calls = []

    def mark(chunk, now, lease=None):
        calls.append(len(chunk))
        if len(calls) == 2:
            raise RuntimeError("database connection lost")
        return real(chunk, now, lease)

    monkeypatch.setattr(delivery_batch, "mark", mark)
    engine.run_due(max_batches=1)
    monkeypatch.undo()
    # What reached the ESP before the error is recorded as sent, not left "sending"
    # for the retry to send again.
    assert not Message.objects.filter(status="sending").exists()
    frozen.advance(timedelta(hours=1))
    engine.run_due()
    received = postmark.message_ids()
    assert len(received) == 6 and set(received.values()) == {1}
