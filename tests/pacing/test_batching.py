"""Pacing stays batch-friendly: the recent sends of a whole batch's contacts are one
query, so a batch of twelve costs as many queries as a batch of one, and the cap adds a
fixed number per batch, not one per contact."""

from __future__ import annotations

import pytest
from django.db import connection

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
