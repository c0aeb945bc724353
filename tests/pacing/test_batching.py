"""Pacing stays batch-friendly: the recent sends of a whole batch's contacts are one
query, so a batch of twelve costs as many queries as a batch of one, and the cap adds a
fixed number per batch, not one per contact."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase import engine
from postpurchase.models import Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

from .helpers import pacing_settings

pytestmark = pytest.mark.django_db


def queries_to_send(n: int, tag: str, **step) -> int:
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="marketing", **step)
    for i in range(n):
        EnrollmentFactory(flow=flow, contact__email=f"{tag}{i}@example.com")
    with CaptureQueriesContext(connection) as captured:
        engine.run_due()
    assert Message.objects.filter(step__flow=flow, status="sent").count() == n
    return len(captured)


def test_a_capped_batch_costs_what_a_single_email_does(settings, frozen):
    pacing_settings(
        settings,
        FREQUENCY_CAP={"emails": 2, "hours": 24},
        QUIET_HOURS={"start": 22, "end": 7},
        SEND_TIME_OPTIMISATION=True,
    )
    queries_to_send(1, "warm", optimise_send_time=True)
    one = queries_to_send(1, "a", optimise_send_time=True)
    twelve = queries_to_send(12, "b", optimise_send_time=True)
    assert twelve == one


def test_the_cap_adds_a_few_queries_per_batch(settings, frozen):
    queries_to_send(1, "warm")
    uncapped = queries_to_send(12, "a")
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    capped = queries_to_send(12, "b")
    # One for the batch's recent sends; per group of emails marked, the recheck and
    # (where the database has row locks) the contacts' lock; one group here.
    assert capped - uncapped == 2 + int(connection.features.has_select_for_update)
