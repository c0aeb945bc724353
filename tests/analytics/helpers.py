from __future__ import annotations

from datetime import datetime

from postpurchase.models import Flow, Message, MessageEvent
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    MessageFactory,
)


def quiet_flow(**kwargs) -> Flow:
    """A flow no order enrolls in (its emails are made by hand in these tests)."""
    return FlowFactory(trigger="cart_updated", **kwargs)


def email(flow: Flow | None = None, contact=None, step=None, **rollups) -> Message:
    """A sent email of ``flow`` to ``contact`` with the tracking roll-ups given."""
    flow = flow or quiet_flow()
    step = step or EmailStepFactory(flow=flow)
    enrollment = EnrollmentFactory(flow=flow, contact=contact or ContactFactory())
    return MessageFactory(enrollment=enrollment, step=step, **rollups)


def click_event(message: Message, at: datetime, machine: bool = False) -> MessageEvent:
    return MessageEvent.objects.create(
        esp="test",
        event_id=f"click-{message.pk}-{at.isoformat()}-{machine}",
        kind=MessageEvent.Kind.CLICKED,
        occurred_at=at,
        message=message,
        machine=machine,
        machine_reason="scanner" if machine else "",
    )
