"""Issue 13: a complaint rate above the threshold pauses the marketing flows (never a
transactional one), once per incident, with the alert."""

from __future__ import annotations

import pytest
from django.core import mail

from postpurchase import clock
from postpurchase.flows.validation import launch
from postpurchase.models import EmailStep, Flow, Incident
from postpurchase.monitoring import run_health_checks
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .conftest import emails

pytestmark = pytest.mark.django_db

MARKETING, TRANSACTIONAL = EmailStep.Category.MARKETING, EmailStep.Category.TRANSACTIONAL


def flow_with(*categories: str, status: str = Flow.Status.LIVE, name: str = "") -> Flow:
    flow = FlowFactory(status=status, **({"name": name} if name else {}))
    for position, category in enumerate(categories, start=1):
        EmailStepFactory(flow=flow, position=position, category=category)
    return flow


@pytest.fixture
def flows(db):
    return {
        "review": flow_with(MARKETING, MARKETING, name="Review request"),
        "shipping": flow_with(TRANSACTIONAL, name="Shipping notice"),
        "series": flow_with(TRANSACTIONAL, MARKETING, name="Thank-you series"),
        "draft": flow_with(MARKETING, status=Flow.Status.DRAFT),
        "staff only": FlowFactory(),
    }


def complaints(rate_of_1000: int) -> None:
    emails(1000 - rate_of_1000)
    emails(rate_of_1000, complained_at=clock.now())


def statuses(flows: dict[str, Flow]) -> dict[str, str]:
    return {name: Flow.objects.get(pk=flow.pk).status for name, flow in flows.items()}


def test_too_many_complaints_pause_the_marketing_flows_only(frozen, flows):
    complaints(4)  # 0.4 %
    assert run_health_checks() == 1
    assert statuses(flows) == {
        "review": "paused",
        "shipping": "live",
        "series": "live",  # it sends an order confirmation: never paused
        "draft": "draft",
        "staff only": "live",
    }
    incident = Incident.objects.get(kind=Incident.Kind.COMPLAINT_RATE)
    assert incident.details["paused"] == [{"id": flows["review"].pk, "name": "Review request"}]
    assert incident.details["kept"] == [{"id": flows["series"].pk, "name": "Thank-you series"}]
    [message] = mail.outbox
    assert "Spam complaint rate too high" in message.subject
    assert "Marketing flows paused: Review request." in message.body
    assert "transactional email: Thank-you series." in message.body


def test_a_flow_staff_launch_again_is_not_paused_again_by_the_same_incident(frozen, flows):
    complaints(4)
    run_health_checks()
    assert launch(Flow.objects.get(pk=flows["review"].pk)) == []
    run_health_checks()
    assert statuses(flows)["review"] == "live"
    assert len(mail.outbox) == 1


def test_below_the_threshold_nothing_is_paused(frozen, flows):
    complaints(3)  # 0.3 %: not above
    assert run_health_checks() == 0
    assert statuses(flows)["review"] == "live"


def test_one_complaint_of_a_few_emails_pauses_nothing(frozen, flows):
    emails(1)
    emails(1, complained_at=clock.now())  # 50 %, but 2 emails: under the minimum volume
    assert run_health_checks() == 0
    assert statuses(flows)["review"] == "live"


def test_the_pause_can_be_switched_off_and_the_alert_stays(frozen, flows, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "HEALTH": {"PAUSE_ON_COMPLAINTS": False}}
    complaints(10)
    assert run_health_checks() == 1
    assert statuses(flows)["review"] == "live"
    incident = Incident.objects.get()
    assert "paused" not in incident.details
    assert len(mail.outbox) == 1
