"""Each divergence rule fires on its divergence and stays quiet when all is well."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase import clock
from postpurchase.flows.validation import launch, pause
from postpurchase.models import Enrollment, Flow, Incident, Message
from postpurchase.monitoring import check, hourly
from postpurchase.testing.factories import (
    DelayStepFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
)

from .conftest import emails, orders

pytestmark = pytest.mark.django_db


def kinds(now=None) -> list[str]:
    return [finding.kind for finding in check(now or clock.now())]


def test_quiet_when_orders_enroll_and_emails_go_out(frozen, thank_you):
    orders(10, minutes_ago=30, flow=thank_you)
    emails(100)
    assert kinds() == []


def test_quiet_with_no_traffic_at_all(frozen, thank_you):
    assert kinds() == []


def test_orders_but_no_enrollments(frozen, thank_you):
    orders(5)
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS
    assert finding.details == {"orders": 5, "window_minutes": 60}


def test_orders_but_no_enrollments_needs_the_minimum_and_the_window(frozen, thank_you):
    orders(4)
    orders(3, minutes_ago=61)  # before the window
    assert kinds() == []


def test_orders_without_enrollments_are_normal_without_an_unfiltered_live_order_flow(
    frozen, thank_you
):
    thank_you.filter_condition = "order_total"
    thank_you.save()
    orders(10)
    assert kinds() == []
    Flow.objects.update(status=Flow.Status.PAUSED, filter_condition="")
    assert kinds() == []


def test_enrollments_but_no_emails(frozen, thank_you):
    orders(5, minutes_ago=20, flow=thank_you, sent=False)
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.ENROLLMENTS_WITHOUT_SENDS
    assert finding.details == {"enrollments": 5, "window_minutes": 60, "grace_minutes": 15}


def test_enrollments_without_emails_within_the_grace_period_are_normal(frozen, thank_you):
    orders(5, minutes_ago=10, flow=thank_you, sent=False)
    assert kinds() == []


def test_enrollments_of_flows_that_open_with_a_delay_need_no_email_yet(frozen):
    flow = FlowFactory()
    DelayStepFactory(flow=flow, position=1)
    EmailStepFactory(flow=flow, position=2)
    orders(10, minutes_ago=20, flow=flow, sent=False)
    assert kinds() == []


@pytest.mark.parametrize("status", ["failed", "retrying", "unknown"])
def test_failure_rate_above_the_threshold(frozen, status):
    emails(17)
    emails(3, status=status)  # 15 % of 20
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.FAILURE_RATE
    assert finding.details["failing"] == 3 and finding.details["total"] == 20
    assert finding.details["rate"] == pytest.approx(0.15)


def test_failure_rate_at_or_below_the_threshold_or_too_few_emails(frozen):
    emails(18)
    emails(2, status=Message.Status.FAILED)  # 10 %: not above
    emails(5, status=Message.Status.QUEUED)  # no outcome yet
    assert kinds() == []
    Message.objects.update(status=Message.Status.FAILED)
    Message.objects.filter(pk__in=Message.objects.all()[:10]).delete()
    assert Message.objects.count() == 15  # all failing, but under MIN_FAILURE_VOLUME
    assert kinds() == []


def test_failures_before_the_window_do_not_count(frozen):
    emails(20)
    emails(20, minutes_ago=61, status=Message.Status.FAILED)
    assert kinds() == []


def test_bounce_rate_above_the_threshold(frozen):
    emails(47)
    emails(3, bounced_at=clock.now())  # 6 % of 50
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.BOUNCE_RATE
    assert (finding.details["bounced"], finding.details["sent"]) == (3, 50)


def test_bounce_rate_at_the_threshold_is_quiet(frozen, settings):
    emails(38)
    emails(2, bounced_at=clock.now())  # 5 % of 40: not above, and under the minimum
    assert kinds() == []
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "HEALTH": {"MIN_BOUNCE_VOLUME": 40}}
    assert kinds() == []
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "HEALTH": {"MIN_BOUNCE_VOLUME": 40, "BOUNCE_RATE": 0.04},
    }
    assert kinds() == [Incident.Kind.BOUNCE_RATE]


def test_a_due_backlog_older_than_the_threshold(frozen, thank_you):
    EnrollmentFactory(flow=thank_you, due_at=clock.now() - timedelta(minutes=31))
    EnrollmentFactory(flow=thank_you, due_at=clock.now() - timedelta(minutes=90))
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.BACKLOG
    assert finding.details["count"] == 2
    assert finding.details["oldest_due_at"] == (clock.now() - timedelta(minutes=90)).isoformat()


def test_no_backlog_when_due_recently_paused_or_finished(frozen, thank_you):
    EnrollmentFactory(flow=thank_you, due_at=clock.now() - timedelta(minutes=29))
    EnrollmentFactory(flow=thank_you, due_at=clock.now() + timedelta(days=2))
    EnrollmentFactory(
        flow=thank_you,
        due_at=clock.now() - timedelta(days=1),
        status=Enrollment.Status.COMPLETED,
    )
    paused = FlowFactory(status=Flow.Status.PAUSED)
    EnrollmentFactory(flow=paused, due_at=clock.now() - timedelta(days=1))
    assert kinds() == []


def test_complaint_rate_above_the_threshold(frozen):
    emails(199, minutes_ago=60 * 23)
    emails(1, complained_at=clock.now())  # 0.5 % of 200
    [finding] = check(clock.now())
    assert finding.kind == Incident.Kind.COMPLAINT_RATE
    assert (finding.details["complaints"], finding.details["sent"]) == (1, 200)
    assert finding.details["threshold"] == 0.003


def test_complaint_rate_needs_the_minimum_volume(frozen):
    emails(198)
    emails(1, complained_at=clock.now())  # 1 of 199: under the minimum of 200
    assert kinds() == []


def test_complaint_rate_below_the_threshold_or_outside_24_hours(frozen):
    emails(998)
    emails(2, complained_at=clock.now())  # 0.2 %
    emails(10, minutes_ago=24 * 60 + 1, complained_at=clock.now())
    assert kinds() == []


def test_hourly_figures(frozen, thank_you):
    orders(3, minutes_ago=5, flow=thank_you)  # 09:55
    orders(2, minutes_ago=70, flow=thank_you, sent=False)  # 08:50
    emails(4, minutes_ago=65, status=Message.Status.FAILED)
    emails(2, minutes_ago=65, bounced_at=clock.now(), complained_at=clock.now())
    rows = hourly(clock.now(), hours=3)
    assert [row["hour"].hour for row in rows] == [8, 9, 10]
    eight, nine, ten = rows
    assert eight == {
        "hour": eight["hour"],
        "orders": 2,
        "enrollments": 2,
        "first_emails": 0,
        "emails": 2,
        "failed": 4,
        "bounced": 2,
        "complained": 2,
    }
    assert (nine["orders"], nine["enrollments"], nine["first_emails"], nine["emails"]) == (
        3,
        3,
        3,
        3,
    )
    assert ten == {"hour": ten["hour"], **dict.fromkeys(list(ten)[1:], 0)}


def test_orders_from_before_the_flow_went_live_are_not_an_outage(frozen, thank_you):
    # Paused (the complaint pause, or staff) while orders came in; resumed just now.
    pause(thank_you)
    orders(6, minutes_ago=20)
    assert kinds() == []
    assert launch(thank_you) == []
    assert kinds() == []
    # Orders after it went live that do not enroll are the outage again.
    frozen.advance(timedelta(minutes=5))
    orders(5, minutes_ago=1)
    assert kinds() == [Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS]


def test_enrollments_due_while_their_flow_was_paused_are_no_backlog_on_resuming(frozen, thank_you):
    pause(thank_you)
    EnrollmentFactory(flow=thank_you, due_at=clock.now() - timedelta(hours=5))
    assert launch(thank_you) == []
    assert kinds() == []  # the scheduler has not had its turn yet
    frozen.advance(timedelta(minutes=31))
    assert kinds() == [Incident.Kind.BACKLOG]  # and has not advanced them since


def test_enrollments_waiting_while_their_flow_was_paused_get_the_grace_again_on_resuming(
    frozen, thank_you
):
    # Enrolled just before the flow was paused; their first emails wait for the resume.
    orders(5, minutes_ago=20, flow=thank_you, sent=False)
    pause(thank_you)
    assert kinds() == []
    assert launch(thank_you) == []
    assert kinds() == []  # the scheduler gets its grace period first
    frozen.advance(timedelta(minutes=16))
    assert kinds() == [Incident.Kind.ENROLLMENTS_WITHOUT_SENDS]  # and did not send them
