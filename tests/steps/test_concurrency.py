"""Races of the new steps that only a real database shows (DATABASE_URL=postgres://...)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction

from postpurchase.models import Enrollment, Flow
from postpurchase.testing.factories import FlowFactory, SignalStepFactory

from ..core.helpers import place
from ..core.test_concurrency import in_thread

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_orders_at_once_enroll_once_per_period():
    flow = FlowFactory(reentry=Flow.Reentry.ONCE_PER_PERIOD, reentry_days=7)
    SignalStepFactory(flow=flow, position=1)
    place(number="0", email="warmup@example.com")  # the contact rows exist first
    place(number="00")
    Enrollment.objects.all().delete()
    inserted = threading.Event()
    errors: list[Exception] = []

    def first():
        with transaction.atomic():
            place(number="1")
            inserted.set()
            time.sleep(0.5)  # hold the uncommitted enrollment while the second arrives

    def second():
        inserted.wait(5)
        with transaction.atomic():
            place(number="2")

    threads = [in_thread(first, errors), in_thread(second, errors)]
    for t in threads:
        t.join(30)
    assert errors == []
    # Different orders, so different dedupe keys: only the contact lock and the period
    # check keep the second out.
    assert list(Enrollment.objects.values_list("order_ref", flat=True)) == ["shop.order:1"]
