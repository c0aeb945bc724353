"""A shop with one transactional and one marketing email after an order."""

from __future__ import annotations

import html
import re

from django.core import mail

from postpurchase.models import Message
from postpurchase.testing.factories import EmailStepFactory, FlowFactory
from tests.core.helpers import place, run_due

PREFERENCES = re.compile(r'href="(http://127\.0\.0\.1:8000/postpurchase/preferences/[^"]+)"')


def two_flows(topic: str = "offers"):
    """A live flow with a transactional email and one with a marketing email of
    ``topic``, both on order_placed; returns (transactional step, marketing step)."""
    service = EmailStepFactory(flow=FlowFactory(), category="transactional", topic="")
    offer = EmailStepFactory(flow=FlowFactory(), category="marketing", topic=topic)
    return service, offer


def order(email: str = "anna@example.com", number: str = "1001", **extra):
    """An order placed and the emails it starts run."""
    event = place(email=email, number=number, **extra)
    run_due()
    return event


def outcome(step) -> list[tuple[str, str]]:
    """(status, error) of each message of ``step``."""
    return list(Message.objects.filter(step=step).values_list("status", "error"))


def preferences_link(to: str = "anna@example.com") -> str:
    """The preference-centre link of the latest marketing email sent to ``to``."""
    for email in reversed(mail.outbox):
        if to in email.to[0]:
            found = PREFERENCES.findall(email.alternatives[0][0])
            if found:
                return html.unescape(found[0]).removeprefix("http://127.0.0.1:8000")
    raise AssertionError(f"no email to {to} carries a preferences link")
