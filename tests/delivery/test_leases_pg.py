"""Leases under a slow ESP, with two real workers on PostgreSQL (DATABASE_URL=postgres://)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from postpurchase import engine
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_slow_esp_does_not_let_a_second_worker_take_the_batch(postmark, settings):
    """Each ESP call takes longer than half the lease and the batch longer than the
    whole lease: the sending worker renews it while it waits, so the other worker,
    polling all the while, never claims the batch and nothing goes out twice."""
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 1, "LEASE_SECONDS": 2}
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="transactional")
    for i in range(4):
        EnrollmentFactory(flow=flow, contact__email=f"slow{i}@example.com")
    postmark.on_receive = lambda payload: time.sleep(1.2)
    errors: list[BaseException] = []

    def first_worker():
        try:
            engine.run_due(max_batches=1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    stolen = 0
    deadline = time.monotonic() + 30
    time.sleep(0.3)
    while worker.is_alive() and time.monotonic() < deadline:
        _, claimed = engine.claim_due()
        stolen += len(claimed)
        time.sleep(0.1)
    worker.join(30)
    assert errors == []
    assert stolen == 0
    received = postmark.message_ids()
    assert len(received) == 4 and set(received.values()) == {1}
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}
