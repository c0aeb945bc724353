from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase import clock
from postpurchase.models import EmailStep, Flow, Message
from postpurchase.testing.factories import (
    DelayStepFactory,
    EmailStepFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
    MessageFactory,
)


@pytest.fixture(autouse=True)
def staff(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": ["team@example.com"]}


@pytest.fixture
def thank_you(db):
    """A live order flow that opens with an email (the thank-you), then waits; live
    since yesterday (the rules ignore what happened before a flow went live)."""
    flow = FlowFactory(name="Thank you")
    EmailStepFactory(flow=flow, position=1, category=EmailStep.Category.TRANSACTIONAL)
    DelayStepFactory(flow=flow, position=2)
    Flow.objects.filter(pk=flow.pk).update(updated_at=clock.now() - timedelta(days=1))
    flow.refresh_from_db()
    return flow


def orders(count: int, minutes_ago: int = 5, flow=None, sent: bool = True) -> list:
    """``count`` orders placed ``minutes_ago``; with ``flow``, each enrolled there (and,
    with ``sent``, its first email sent)."""
    at = clock.now() - timedelta(minutes=minutes_ago)
    made = []
    for _ in range(count):
        event = EventFactory(occurred_at=at)
        if flow is not None:
            enrollment = EnrollmentFactory(
                flow=flow, contact=event.contact, trigger_event=event, triggered_at=at
            )
            if sent:
                MessageFactory(enrollment=enrollment, step=enrollment.step, created_at=at)
        made.append(event)
    return made


def emails(count: int, minutes_ago: int = 5, flow=None, **fields) -> list[Message]:
    """``count`` sent emails made ``minutes_ago`` (with ``fields`` set), visits of one
    email step of ``flow`` (default: a new draft flow) by one enrollment."""
    at = clock.now() - timedelta(minutes=minutes_ago)
    flow = flow or FlowFactory(status="draft")
    step = flow.steps.instance_of(EmailStep).first() or EmailStepFactory(flow=flow)
    enrollment = EnrollmentFactory(flow=flow)
    first = MessageFactory.build(enrollment=enrollment, step=step, created_at=at, **fields)
    rows = [first]
    for visit in range(2, count + 1):
        row = MessageFactory.build(enrollment=enrollment, step=step, created_at=at, **fields)
        row.visit = visit
        rows.append(row)
    return Message.objects.bulk_create(rows)
