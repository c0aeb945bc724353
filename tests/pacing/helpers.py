"""Flows with one email step each, and the settings of pacing, for the pacing tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.dispatch import Signal

from postpurchase.models import EmailStep, Flow, Message
from postpurchase.testing.factories import (
    DelayStepFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    FlowFactory,
)

from ..core.helpers import place, run_clock


def email_flow(name: str, category: str = EmailStep.Category.MARKETING, **step) -> Flow:
    """A live flow on order_placed that sends one email at once."""
    flow = FlowFactory(name=name, slug=name)
    EmailStepFactory(
        flow=flow,
        position=1,
        template=EmailTemplateFactory(slug=f"{name}-email"),
        category=category,
        **step,
    )
    return flow


def delayed_email_flow(name: str, hours: int, **step) -> Flow:
    """A live flow on order_placed that sends one marketing email ``hours`` later."""
    flow = FlowFactory(name=name, slug=name)
    DelayStepFactory(flow=flow, position=1, days=0, hours=hours)
    EmailStepFactory(
        flow=flow, position=2, template=EmailTemplateFactory(slug=f"{name}-email"), **step
    )
    return flow


def pacing_settings(settings, **values) -> None:
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, **values}


def messages_of(flow: Flow) -> list[Message]:
    return list(Message.objects.filter(enrollment__flow=flow).order_by("created_at"))


@contextmanager
def listening(signal: Signal) -> Iterator[list[dict]]:
    """The keyword arguments of each sending of ``signal`` while inside."""
    caught: list[dict] = []

    def receiver(**kwargs):
        caught.append(kwargs)

    signal.connect(receiver)
    try:
        yield caught
    finally:
        signal.disconnect(receiver)


def place_and_run(frozen, capture, days: int) -> None:
    """Place Anna's order (its wake-up run at commit), then run the clock ``days``."""
    with capture(execute=True):
        place()
    run_clock(frozen, days=days)
