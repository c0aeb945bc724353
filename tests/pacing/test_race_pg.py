"""Two real workers on PostgreSQL email one contact at the same moment, from two flows,
with a cap of one a day: the contacts' row lock and the recheck when an email is marked
let exactly one go; the other is deferred, not sent over the cap and not lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from postpurchase import engine
from postpurchase.delivery import step as delivery_step
from postpurchase.models import Message
from postpurchase.testing.factories import ContactFactory, EnrollmentFactory

from .helpers import email_flow, pacing_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_do_not_both_pass_the_cap(settings, monkeypatch):
    pacing_settings(settings, FREQUENCY_CAP={"emails": 1, "hours": 24})
    contact = ContactFactory(email="anna@example.com")  # an existing customer
    enrollments = [
        EnrollmentFactory(flow=email_flow(name), contact=contact) for name in ("tips", "sale")
    ]
    # Both workers plan before either marks: each sees no email sent yet.
    both_planned = threading.Barrier(2, timeout=20)
    real_plan = delivery_step.pacing.plan

    def plan_together(*args, **kwargs):
        paces = real_plan(*args, **kwargs)
        both_planned.wait()
        return paces

    monkeypatch.setattr(delivery_step.pacing, "plan", plan_together)
    errors: list[BaseException] = []

    def worker(enrollment_id: int) -> None:
        try:
            engine.run_enrollments([enrollment_id])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(e.pk,)) for e in enrollments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == ["deferred", "sent"]
    deferred = Message.objects.get(status="deferred")
    sent = Message.objects.get(status="sent")
    assert deferred.deferral_reason == "cap"
    assert (deferred.deferred_until - sent.attempted_at).total_seconds() == 24 * 3600
