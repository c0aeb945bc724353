"""DelayStep: counted from another event (with a maximum wait), and send windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from postpurchase import engine, signals, track
from postpurchase.models import DelayStep, Enrollment
from postpurchase.results import Next, Wait
from postpurchase.testing.factories import (
    ContactFactory,
    DelayStepFactory,
    EnrollmentFactory,
    FlowFactory,
    SignalStepFactory,
)
from postpurchase.windows import next_allowed, zone

from ..core.helpers import place, run_clock
from .helpers import context, refreshed

pytestmark = pytest.mark.django_db


@pytest.fixture
def fired(frozen):
    """(action, time) of each step_action signal."""
    calls = []

    def receiver(sender, action, **kwargs):
        calls.append((action, frozen.now))

    signals.step_action.connect(receiver)
    yield calls
    signals.step_action.disconnect(receiver)


def after_delivery_flow(on_timeout="exit", max_wait_days=30, **delay):
    """order_placed -> wait for order_delivered, then 5 days -> signal "review"."""
    flow = FlowFactory(trigger="order_placed")
    DelayStepFactory(
        flow=flow,
        position=1,
        relative_to="event",
        event_name="order_delivered",
        days=5,
        max_wait_days=max_wait_days,
        on_timeout=on_timeout,
        **delay,
    )
    SignalStepFactory(flow=flow, position=2, action="review")
    return flow


def deliver(number="1001", email="anna@example.com"):
    return track("order_delivered", email=email, order_ref=f"shop.order:{number}")


# --- relative to an event ------------------------------------------------------------


def test_fires_the_duration_after_the_event(frozen, fired, django_capture_on_commit_callbacks):
    after_delivery_flow()
    start = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        place()
    enrollment = Enrollment.objects.get()
    # Waiting for the event: due at the next poll, not spinning.
    assert enrollment.due_at == start + DelayStep.EVENT_POLL

    frozen.advance(timedelta(days=3, minutes=20))
    delivered_at = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        deliver()
    # The event woke the enrollment, which now waits for delivery + 5 days.
    assert refreshed(enrollment).due_at == delivered_at + timedelta(days=5)

    run_clock(frozen, days=40)
    assert fired == [("review", delivered_at + timedelta(days=5))]
    assert refreshed(enrollment).status == Enrollment.Status.COMPLETED


def test_an_event_before_reaching_the_step_counts(frozen, fired):
    flow = FlowFactory()
    SignalStepFactory(flow=flow, position=1, action="first")
    DelayStepFactory(
        flow=flow, position=2, relative_to="event", event_name="order_delivered", days=1
    )
    contact = ContactFactory(email="anna@example.com")
    enrollment = EnrollmentFactory(
        flow=flow, contact=contact, triggered_at=frozen.now - timedelta(days=2)
    )
    deliver()
    engine.run_due()
    assert refreshed(enrollment).due_at == frozen.now + timedelta(days=1)


def test_events_of_another_order_or_contact_do_not_count(
    frozen, fired, django_capture_on_commit_callbacks
):
    after_delivery_flow()
    with django_capture_on_commit_callbacks(execute=True):
        place(number="1001")
    frozen.advance(timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        deliver(number="2002")  # another order of the same customer
        deliver(number="1001", email="bob@example.com")  # another customer
    enrollment = Enrollment.objects.get()
    assert refreshed(enrollment).due_at <= frozen.now + DelayStep.EVENT_POLL
    ctx = context(enrollment, enrollment.step.get_real_instance(), frozen.now)
    assert ctx.step.find_event(ctx.enrollment, before=frozen.now) is None


def test_an_event_without_order_ref_counts(frozen, fired, django_capture_on_commit_callbacks):
    after_delivery_flow()
    with django_capture_on_commit_callbacks(execute=True):
        place()
    frozen.advance(timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        track("order_delivered", email="anna@example.com")
    assert refreshed(Enrollment.objects.get()).due_at == frozen.now + timedelta(days=5)


def test_never_arrives_exits_at_the_maximum_wait(frozen, fired, django_capture_on_commit_callbacks):
    after_delivery_flow(on_timeout="exit", max_wait_days=3)
    start = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        place()
    runs = run_clock(frozen, days=10)
    enrollment = refreshed(Enrollment.objects.get())
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "no order_delivered within 3 days"
    assert enrollment.finished_at == start + timedelta(days=3)
    assert fired == []
    # Hourly polls at most: it waited, it did not spin.
    assert len(runs) <= 3 * 24 + 2


def test_never_arrives_continues_at_the_maximum_wait(
    frozen, fired, django_capture_on_commit_callbacks
):
    after_delivery_flow(on_timeout="continue", max_wait_days=2, max_wait_hours=12)
    start = frozen.now
    with django_capture_on_commit_callbacks(execute=True):
        place()
    run_clock(frozen, days=10)
    assert fired == [("review", start + timedelta(days=2, hours=12))]
    assert refreshed(Enrollment.objects.get()).status == Enrollment.Status.COMPLETED


def test_an_event_after_the_maximum_wait_is_too_late(frozen, fired):
    flow = after_delivery_flow(on_timeout="exit")
    contact = ContactFactory(email="anna@example.com")
    enrollment = EnrollmentFactory(
        flow=flow,
        contact=contact,
        order_ref="shop.order:1001",
        triggered_at=frozen.now - timedelta(days=31),
    )
    deliver()  # a day after the 30 days were up; the scheduler was down, say
    engine.run_due()
    assert refreshed(enrollment).status == Enrollment.Status.EXITED


def test_delay_relative_to_event_is_idempotent(frozen):
    flow = after_delivery_flow()
    step = flow.steps.first()
    enrollment = EnrollmentFactory(flow=flow, contact=ContactFactory(email="anna@example.com"))
    deliver()
    ctx = context(enrollment, step, frozen.now)
    assert step.execute(ctx) == step.execute(ctx) == Wait(frozen.now + timedelta(days=5))


# --- send windows ----------------------------------------------------------------------


NEW_YORK = "America/New_York"


def test_window_moves_friday_evening_to_monday_morning(frozen, fired):
    # frozen: Monday 2026-11-23 10:00 UTC. 4 days 13 hours later is Friday 23:00 UTC,
    # 18:00 in New York (EST, UTC-5): after 9-17 on Mon-Fri, so Monday 9:00 local.
    assert frozen.now.weekday() == 0
    flow = FlowFactory()
    DelayStepFactory(
        flow=flow,
        position=1,
        days=4,
        hours=13,
        relative_to="trigger",
        window_start_hour=9,
        window_end_hour=17,
        weekdays="01234",
    )
    SignalStepFactory(flow=flow, position=2, action="send")
    enrollment = EnrollmentFactory(flow=flow, contact=ContactFactory(timezone=NEW_YORK))
    engine.run_due()
    monday_9_local = datetime(2026, 11, 30, 9, tzinfo=ZoneInfo(NEW_YORK))
    assert refreshed(enrollment).due_at == monday_9_local
    assert monday_9_local == datetime(2026, 11, 30, 14, tzinfo=UTC)
    run_clock(frozen, days=10)
    assert fired == [("send", monday_9_local)]


def test_window_inside_keeps_the_time(frozen):
    step = DelayStepFactory(
        days=1, hours=3, relative_to="trigger", window_start_hour=9, window_end_hour=17
    )
    # Tuesday 13:00 UTC = 8:00 New York (too early), 14:00 Berlin (inside).
    berlin = EnrollmentFactory(flow=step.flow, contact=ContactFactory(timezone="Europe/Berlin"))
    ny = EnrollmentFactory(flow=step.flow, contact=ContactFactory(timezone=NEW_YORK))
    assert step.execute(context(berlin, step, frozen.now)) == Wait(
        frozen.now + timedelta(days=1, hours=3)
    )
    assert step.execute(context(ny, step, frozen.now)) == Wait(
        datetime(2026, 11, 24, 9, tzinfo=ZoneInfo(NEW_YORK))
    )


def test_zero_delay_with_a_window_sends_at_the_next_allowed_moment(frozen):
    step = DelayStepFactory(days=0, relative_to="previous", window_start_hour=9, weekdays="0123")
    step.full_clean()
    enrollment = EnrollmentFactory(flow=step.flow, contact=ContactFactory(timezone=NEW_YORK))
    # 10:00 UTC Monday = 5:00 New York: wait until 9:00 local the same day.
    ctx = context(enrollment, step, frozen.now)
    assert step.execute(ctx) == Wait(datetime(2026, 11, 23, 14, tzinfo=UTC))
    # Inside the window it goes on at once.
    later = context(enrollment, step, datetime(2026, 11, 23, 15, tzinfo=UTC))
    assert step.execute(later) == Next()


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "../../etc/passwd", "not a zone"])
def test_a_bad_time_zone_falls_back_to_settings(frozen, settings, name):
    settings.TIME_ZONE = "Asia/Tokyo"
    step = DelayStepFactory(days=0, relative_to="previous", window_start_hour=9, window_end_hour=17)
    enrollment = EnrollmentFactory(flow=step.flow, contact=ContactFactory(timezone=name))
    # 10:00 UTC = 19:00 in Tokyo: the next day at 9:00 Tokyo time.
    assert step.execute(context(enrollment, step, frozen.now)) == Wait(
        datetime(2026, 11, 24, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    )
    assert zone(name) == ZoneInfo("Asia/Tokyo")


def test_next_allowed_across_a_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    # Sunday 2027-03-28 clocks go 2:00 -> 3:00. Saturday 20:00 with a 8-12 window on
    # Sundays opens at 8:00 CEST (UTC+2), i.e. 6:00 UTC.
    saturday = datetime(2027, 3, 27, 20, tzinfo=berlin)
    assert next_allowed(saturday, berlin, 8, 12, "6") == datetime(2027, 3, 28, 6, tzinfo=UTC)


def test_next_allowed_without_a_window_is_the_moment():
    moment = datetime(2026, 11, 23, 3, tzinfo=UTC)
    assert next_allowed(moment, ZoneInfo("UTC")) is moment


# --- clean() --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"days": 0}, "days"),
        ({"relative_to": "event"}, "event_name"),
        ({"relative_to": "event", "event_name": "x", "max_wait_days": 0}, "max_wait_days"),
        ({"event_name": "order_delivered"}, "event_name"),
        ({"window_start_hour": 18, "window_end_hour": 9}, "window_end_hour"),
        ({"window_start_hour": 24}, "window_start_hour"),
        ({"window_end_hour": 25}, "window_end_hour"),
        ({"weekdays": "017"}, "weekdays"),
        ({"weekdays": "001"}, "weekdays"),
        ({"weekdays": ""}, "weekdays"),
        ({"max_wait_hours": 24}, "max_wait_hours"),
    ],
)
def test_clean_names_the_bad_field(fields, field):
    step = DelayStep(flow=FlowFactory(), position=1, **{"days": 1, **fields})
    with pytest.raises(ValidationError) as info:
        step.full_clean()
    assert field in info.value.message_dict, info.value.message_dict


def test_clean_accepts_and_tidies():
    step = DelayStep(
        flow=FlowFactory(),
        relative_to="event",
        event_name=" order_delivered ",
        weekdays="40",
        window_start_hour=9,
        window_end_hour=18,
    )
    step.full_clean()
    assert (step.event_name, step.weekdays) == ("order_delivered", "04")
