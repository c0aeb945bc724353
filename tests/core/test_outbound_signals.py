"""Outbound signals announce what was committed: nothing for a shop transaction that
rolls back, nothing for a step result the engine dropped."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from postpurchase import engine, signals
from postpurchase.engine.scheduler import claim_due, process
from postpurchase.models import Enrollment
from postpurchase.testing.factories import DelayStepFactory, EnrollmentFactory, FlowFactory

from .helpers import place

pytestmark = pytest.mark.django_db

OUTBOUND = ("event_tracked", "enrolled", "step_executed", "enrollment_exited")


class PaymentDeclined(Exception):
    pass


@pytest.fixture
def received():
    """{signal name: [kwargs, ...]} of the outbound signals sent during the test."""
    calls: dict[str, list[dict]] = {name: [] for name in OUTBOUND}
    receivers = []
    for name in OUTBOUND:

        def receiver(sender, _name=name, **kwargs):
            calls[_name].append(kwargs)

        getattr(signals, name).connect(receiver, weak=False)
        receivers.append((name, receiver))
    yield calls
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver)


@pytest.fixture
def flow(db):
    flow = FlowFactory(trigger="order_placed")
    DelayStepFactory(flow=flow, position=1, days=3)
    return flow


def test_a_rolled_back_checkout_announces_no_enrollment(
    flow, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PaymentDeclined):
            with transaction.atomic():
                place()
                raise PaymentDeclined
    assert Enrollment.objects.count() == 0
    assert received["enrolled"] == []
    assert received["event_tracked"] == []


def test_a_committed_checkout_announces_one_enrollment_after_commit(
    flow, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            place()
            # The shop may still roll back: nothing is announced yet.
            assert received["enrolled"] == []
    enrollment = Enrollment.objects.get()
    assert [kw["enrollment"] for kw in received["enrolled"]] == [enrollment]
    assert len(received["event_tracked"]) == 1


def test_a_rolled_back_cancellation_announces_no_exit(
    flow, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
        with pytest.raises(PaymentDeclined):
            with transaction.atomic():
                engine.record_event(
                    "order_cancelled",
                    Enrollment.objects.get().contact,
                    order_ref="shop.order:1001",
                )
                raise PaymentDeclined
    assert Enrollment.objects.get().status == Enrollment.Status.ACTIVE
    assert received["enrollment_exited"] == []


def test_a_dropped_step_result_is_not_announced(
    flow, frozen, received, django_capture_on_commit_callbacks
):
    kept = EnrollmentFactory(flow=flow)
    lost = EnrollmentFactory(flow=flow)
    _, claimed = claim_due(frozen.now)
    # While this worker runs, another one takes ``lost`` over (its lease expired).
    Enrollment.objects.filter(pk=lost.pk).update(lease_token=uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        process(claimed, frozen.now)
    assert [kw["enrollment"].pk for kw in received["step_executed"]] == [kept.pk]


def test_a_batch_that_fails_to_save_announces_nothing(
    flow, frozen, received, monkeypatch, django_capture_on_commit_callbacks
):
    EnrollmentFactory(flow=flow)

    def broken(objs, fields):
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine.scheduler, "update_rows", broken)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            engine.run_due()
    assert received["step_executed"] == []
