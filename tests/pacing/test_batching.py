"""Pacing stays batch-friendly: the recent sends of a whole batch's contacts are one
query, so a batch of twelve costs as many queries as a batch of one, and the cap adds a
fixed number per batch, not one per contact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase import clock, engine
from postpurchase.models import Message
from postpurchase.testing.factories import (
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    MessageFactory,
)

from ..core.helpers import queries_to_send
from .helpers import pacing_settings

pytestmark = pytest.mark.django_db


def test_a_capped_batch_costs_what_a_single_email_does(settings, frozen):
    pacing_settings(
        settings,
        FREQUENCY_CAP={"emails": 2, "hours": 24},
        QUIET_HOURS={"start": 22, "end": 7},
        SEND_TIME_OPTIMISATION=True,
    )
    queries_to_send(1, "warm", "marketing", optimise_send_time=True)
    one = queries_to_send(1, "a", "marketing", optimise_send_time=True)
    twelve = queries_to_send(12, "b", "marketing", optimise_send_time=True)
    assert twelve == one


def test_the_cap_adds_a_few_queries_per_batch(settings, frozen):
    queries_to_send(1, "warm", "marketing")
    uncapped = queries_to_send(12, "a", "marketing")
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    capped = queries_to_send(12, "b", "marketing")
    # One for the batch's recent sends; per group of emails marked, the recheck and
    # (where the database has row locks) the contacts' lock; one group here.
    assert capped - uncapped == 2 + int(connection.features.has_select_for_update)


def queries_to_defer(n: int, tag: str) -> int:
    """Queries one run_due() makes to defer ``n`` marketing emails (each contact had one
    an hour ago, the cap is one a day)."""
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="marketing")
    for i in range(n):
        enrollment = EnrollmentFactory(flow=flow, contact__email=f"{tag}{i}@example.com")
        MessageFactory(
            enrollment=EnrollmentFactory(flow=flow, contact=enrollment.contact, status="completed"),
            created_at=clock.now() - timedelta(hours=1),
        )
    with CaptureQueriesContext(connection) as captured:
        engine.run_due()
    assert Message.objects.filter(step__flow=flow, status="deferred").count() == n
    return len(captured)


def test_a_batch_of_deferrals_is_written_together(settings, frozen):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    queries_to_defer(1, "warm")
    assert queries_to_defer(12, "b") == queries_to_defer(1, "a")
