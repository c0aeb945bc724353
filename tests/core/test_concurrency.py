"""Races that only a real database shows: run with DATABASE_URL=postgres://..."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.db import connection, transaction

from postpurchase import engine
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

from .helpers import place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_thread(target, errors):
    def run():
        try:
            target()
        except Exception as exc:  # surfaced by the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_same_order_signal_from_two_connections_enrolls_once(default_flow):
    inserted = threading.Event()
    errors: list[Exception] = []

    def first():
        with transaction.atomic():
            place()
            inserted.set()
            time.sleep(0.5)  # hold the uncommitted enrollment while the second arrives

    def second():
        inserted.wait(5)
        with transaction.atomic():
            place()

    threads = [in_thread(first, errors), in_thread(second, errors)]
    for t in threads:
        t.join(30)
    assert errors == []
    assert Enrollment.objects.count() == 1
    assert Message.objects.count() == 1
    assert len(mail.outbox) == 1


def test_two_workers_never_send_a_step_twice(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "BATCH_SIZE": 7}
    flow = FlowFactory()
    EmailStepFactory(flow=flow, position=1)
    EmailStepFactory(flow=flow, position=2)
    enrollments = [EnrollmentFactory(flow=flow) for _ in range(60)]
    start = threading.Barrier(2)
    errors: list[Exception] = []
    done: list[int] = []

    def worker():
        start.wait(5)
        done.append(engine.run_due())

    threads = [in_thread(worker, errors), in_thread(worker, errors)]
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(done) == 60
    assert all(n > 0 for n in done), done  # both workers took batches
    assert Message.objects.count() == 120
    assert len(mail.outbox) == 120
    per_enrollment = {e.pk: e.messages.count() for e in enrollments}
    assert set(per_enrollment.values()) == {2}
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}


def test_claims_skip_rows_another_worker_holds(settings):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    for _ in range(10):
        EnrollmentFactory(flow=flow)
    holding = threading.Event()
    release = threading.Event()
    errors: list[Exception] = []
    claimed_by_other: list[int] = []

    def holder():
        with transaction.atomic():
            rows = list(
                Enrollment.objects.select_for_update()
                .order_by("due_at")
                .values_list("pk", flat=True)[:4]
            )
            claimed_by_other.extend(rows)
            holding.set()
            release.wait(10)

    thread = in_thread(holder, errors)
    holding.wait(5)
    _, claimed = engine.claim_due(limit=10)
    release.set()
    thread.join(10)
    assert errors == []
    assert len(claimed) == 6
    assert not {e.pk for e in claimed} & set(claimed_by_other)
