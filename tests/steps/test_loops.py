"""Flows that loop: "remind every week until they order". Each visit of a step is its
own Message (or StepRecord), with its own idempotency key; a loop that never waits is
refused at go-live and stopped at run time."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest
from django.core import mail

from postpurchase import engine, signals, track
from postpurchase.flows.validation import validate_flow
from postpurchase.models import ConditionStep, DelayStep, Enrollment, Message, StepRecord
from postpurchase.testing.factories import (
    ConditionStepFactory,
    DelayStepFactory,
    EmailStepFactory,
    FlowFactory,
    SignalStepFactory,
    order_snapshot,
)

from ..core.helpers import place, run_clock

pytestmark = pytest.mark.django_db


def reminder_flow(check_first=False, **delay):
    """order_delivered -> wait 7 days -> reminder email -> ordered again? yes: exit,
    no: back to the wait. ``check_first`` also asks before each reminder."""
    flow = FlowFactory(trigger="order_delivered")
    wait = DelayStepFactory(flow=flow, position=1, **{"days": 7, **delay})
    ordered = {
        "condition": ConditionStep.Check.ORDERED_AGAIN,
        "then_action": ConditionStep.Action.EXIT,
        "then_reason": "ordered",
    }
    if check_first:
        ConditionStepFactory(flow=flow, position=2, **ordered)
    email = EmailStepFactory(flow=flow, position=3)
    ConditionStepFactory(
        flow=flow, position=4, else_action=ConditionStep.Action.JUMP, else_step=wait, **ordered
    )
    return flow, email


def delivered(number="1"):
    return track(
        "order_delivered",
        email="anna@example.com",
        data={"order": order_snapshot(number=number)},
        order_ref=f"shop.order:{number}",
    )


def test_a_weekly_reminder_loop_sends_each_reminder(frozen):
    flow, email = reminder_flow()
    assert validate_flow(flow) == []
    delivered()
    run_clock(frozen, days=36)
    messages = list(Message.objects.filter(step=email).order_by("created_at"))
    assert [m.visit for m in messages] == [1, 2, 3, 4, 5]
    assert {m.status for m in messages} == {"sent"}
    assert [m.sent_at - messages[0].sent_at for m in messages] == [
        timedelta(days=7 * i) for i in range(5)
    ]
    assert len(mail.outbox) == 5
    keys = [sent.extra_headers["Idempotency-Key"] for sent in mail.outbox]
    assert keys == [str(m.pk) for m in messages]
    assert len(set(keys)) == 5
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.ACTIVE


def test_ordering_mid_way_exits_the_loop(frozen):
    flow, email = reminder_flow(check_first=True)
    assert validate_flow(flow) == []
    delivered()
    run_clock(frozen, days=15)  # two reminders: days 7 and 14
    assert len(mail.outbox) == 2
    place(number="2")  # the customer orders again after the second one
    run_clock(frozen, days=60)
    assert Message.objects.filter(step=email).count() == 2
    assert len(mail.outbox) == 2
    enrollment = Enrollment.objects.get(flow=flow)
    assert (enrollment.status, enrollment.exit_reason) == (Enrollment.Status.EXITED, "ordered")


def test_a_crash_after_sending_sends_nothing_twice(frozen, monkeypatch):
    """The worker sends the second reminder and dies before saving the enrollment: the
    re-run walks the same path to the same visit and finds the email sent."""
    flow, email = reminder_flow()
    delivered()
    run_clock(frozen, days=8)  # first reminder, waiting for the second
    frozen.advance(timedelta(days=7))
    saved = engine.scheduler._save_all

    def crash(enrollments):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(engine.scheduler, "_save_all", crash)
    with pytest.raises(RuntimeError):
        engine.run_due()
    assert len(mail.outbox) == 2
    monkeypatch.setattr(engine.scheduler, "_save_all", saved)
    # The lease expires; another worker takes the enrollment over.
    frozen.advance(timedelta(hours=1))
    engine.run_due()
    assert len(mail.outbox) == 2
    assert [m.visit for m in Message.objects.filter(step=email).order_by("visit")] == [1, 2]
    enrollment = Enrollment.objects.get()
    assert enrollment.step.position == 1 and enrollment.status == Enrollment.Status.ACTIVE


def test_a_signal_step_in_a_loop_fires_once_per_visit(frozen):
    fired = []

    def receiver(sender, action, visit, **kwargs):
        fired.append((action, visit))

    flow = FlowFactory(trigger="order_delivered")
    wait = DelayStepFactory(flow=flow, position=1, days=7)
    signal = SignalStepFactory(flow=flow, position=2, action="remind")
    ConditionStepFactory(
        flow=flow,
        position=3,
        condition=ConditionStep.Check.ORDERED_AGAIN,
        else_action=ConditionStep.Action.JUMP,
        else_step=wait,
    )
    signals.step_action.connect(receiver)
    try:
        delivered()
        run_clock(frozen, days=22)
    finally:
        signals.step_action.disconnect(receiver)
    assert fired == [("remind", 1), ("remind", 2), ("remind", 3)]
    records = StepRecord.objects.filter(step=signal).order_by("visit")
    assert [r.visit for r in records] == [1, 2, 3]


def test_visits_are_capped(frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAX_STEP_VISITS": 3}
    flow, email = reminder_flow()
    delivered()
    run_clock(frozen, days=60)
    assert Message.objects.filter(step=email).count() == 3
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.EXITED
    assert "MAX_STEP_VISITS" in enrollment.exit_reason


# --- loops that never wait ---------------------------------------------------------------


def test_a_loop_without_a_delay_is_refused_at_go_live():
    flow = FlowFactory(trigger="order_delivered")
    email = EmailStepFactory(flow=flow, position=1)
    ConditionStepFactory(
        flow=flow,
        position=2,
        condition=ConditionStep.Check.ORDERED_AGAIN,
        else_action=ConditionStep.Action.JUMP,
        else_step=email,
    )
    problems = [str(p) for p in validate_flow(flow)]
    assert any("1 → 2 → 1" in p and "without a delay" in p for p in problems), problems


@pytest.mark.parametrize(
    "delay",
    [
        # Counted from the trigger: past after the first wait, so the loop spins.
        {"relative_to": DelayStep.RelativeTo.TRIGGER},
        # Counted from an event: once the event has come, every later visit passes.
        {"relative_to": DelayStep.RelativeTo.EVENT, "event_name": "order_shipped", "days": 1},
    ],
)
def test_a_loop_whose_delay_waits_only_once_is_refused(delay):
    flow, email = reminder_flow(**delay)
    problems = [str(p) for p in validate_flow(flow)]
    assert any("without a delay" in p for p in problems), problems


def test_a_loop_that_does_not_wait_stops_at_run_time(frozen):
    """A flow edited into a loop after going live: one lap at most, then it fails."""
    flow, email = reminder_flow(relative_to=DelayStep.RelativeTo.TRIGGER)
    delivered()
    run_clock(frozen, days=8)
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "again without a wait" in enrollment.last_error
    assert Message.objects.filter(step=email).count() == 1


def test_deleting_the_step_an_enrollment_waits_on_counts_its_next_visit(frozen):
    flow, email = reminder_flow()
    delivered()
    run_clock(frozen, days=8)
    assert len(mail.outbox) == 1
    enrollment = Enrollment.objects.get()
    wait = DelayStep.objects.get(flow=flow)
    assert enrollment.step_id == wait.pk
    # Staff edit the live flow: the enrollment is moved on, onto the email, a new visit.
    wait.delete()
    assert Enrollment.objects.get().visit_of(email.pk) == 2
    run_clock(frozen, days=1)
    assert [m.visit for m in Message.objects.filter(step=email).order_by("visit")] == [1, 2]
    assert len(mail.outbox) == 2


def test_enrollments_mid_loop_before_visits_were_counted_miss_no_reminder(frozen):
    backfill_visits = import_module("postpurchase.migrations.0010_backfill_visits").backfill_visits
    flow, email = reminder_flow()
    delivered()
    run_clock(frozen, days=8)
    assert len(mail.outbox) == 1
    # What an enrollment walking this flow before migration 0008 looks like after it.
    Enrollment.objects.update(visits={})
    assert backfill_visits(Enrollment, Message, StepRecord, "default") == 1
    run_clock(frozen, days=7)  # the day-14 reminder is due
    assert len(mail.outbox) == 2


def test_the_backfill_counts_a_new_lap_on_a_step_already_acted_on(frozen):
    backfill_visits = import_module("postpurchase.migrations.0010_backfill_visits").backfill_visits
    flow, email = reminder_flow()
    delivered()
    run_clock(frozen, days=8)
    enrollment = Enrollment.objects.get()
    # Before 0008: standing on the email again (second lap), entered after the first
    # reminder's row was written, not yet run.
    frozen.advance(timedelta(hours=1))
    Enrollment.objects.update(visits={}, step=email, step_entered_at=frozen.now, due_at=frozen.now)
    backfill_visits(Enrollment, Message, StepRecord, "default")
    assert Enrollment.objects.get(pk=enrollment.pk).visit_of(email.pk) == 2
    run_clock(frozen, days=1)
    assert len(mail.outbox) == 2
