"""Logs and our exception texts carry ids, never a customer's address or name: they
end up in log aggregators and error trackers that staff outside customer care read."""

from __future__ import annotations

import logging

import pytest
from anymail.exceptions import AnymailInvalidAddress

from postpurchase import clock, engine, signals, track
from postpurchase.delivery.compose import recipient
from postpurchase.engine.context import Batch, StepContext
from postpurchase.exceptions import AdapterError, InvalidEventError
from postpurchase.models import Message, SignalStep, Step
from postpurchase.results import Fail
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    SignalStepFactory,
)

from .adapters import FakeOrder

pytestmark = pytest.mark.django_db

EMAIL = "zoe.quill@example.com"
PRIVATE = ("zoe.quill", "quillfeather", "zoë")


def assert_private_text(text: str) -> None:
    leaked = [p for p in PRIVATE if p in text.lower()]
    assert not leaked, f"{leaked} in {text[:300]}"


def assert_private(records: list[logging.LogRecord]) -> None:
    assert records, "the error path logged nothing"
    formatter = logging.Formatter("%(message)s")
    for record in records:
        text = formatter.format(record).lower()  # the message and any traceback
        leaked = [p for p in PRIVATE if p in text]
        assert not leaked, f"{record.name} {record.levelname} logs {leaked}: {text[:300]}"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger="postpurchase")
    return caplog


@pytest.fixture
def customer():
    return ContactFactory(email=EMAIL, first_name="Zoë", last_name="Quillfeather")


def test_a_bad_adapter_snapshot_is_logged_without_the_address(settings, logs):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.core.adapters.FakeAdapter",
        "SIGNAL_ERRORS": "log",
    }
    order = FakeOrder(pk=1, email="zoe.quill@", extra={"last_name": "Quillfeather"})
    signals.order_placed.send(sender=FakeOrder, order=order)
    assert any(r.levelno == logging.ERROR for r in logs.records)
    assert_private(logs.records)


def test_bad_input_errors_name_the_field_not_the_value(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "tests.core.adapters.FakeAdapter"}
    with pytest.raises(InvalidEventError) as caught:
        track("order_placed", email="zoe.quill@@example.com")
    assert "email" in str(caught.value)
    with pytest.raises(AdapterError) as adapter_error:
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1, email="zoe.quill@"))
    assert "email" in str(adapter_error.value)
    for exc in (caught.value, adapter_error.value):
        assert not [p for p in PRIVATE if p in str(exc).lower()], str(exc)


def test_an_esp_error_quoting_the_recipient_is_logged_without_it(settings, logs, customer):
    settings.EMAIL_BACKEND = "tests.core.backends.RefusingBackend"
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    EnrollmentFactory(flow=flow, contact=customer)
    engine.run_due()
    assert any(r.levelno == logging.WARNING for r in logs.records)
    assert_private(logs.records)
    # The stored error (which message_failed receivers get, and often log) too.
    assert "<address>" in Message.objects.get().error
    assert_private_text(Message.objects.get().error)


def test_an_esp_refusal_quoting_the_recipient_is_stored_without_it(settings, customer, monkeypatch):
    settings.EMAIL_BACKEND = "tests.core.backends.RefusingBackend"
    monkeypatch.setattr("tests.core.backends.RefusingBackend.permanent", True)
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    enrollment = EnrollmentFactory(flow=flow, contact=customer)
    engine.run_due()
    enrollment.refresh_from_db()
    assert Message.objects.get().status == Message.Status.FAILED
    assert_private_text(Message.objects.get().error)
    assert_private_text(enrollment.last_error)


def test_an_unusable_address_is_refused_without_quoting_it():
    with pytest.raises(AnymailInvalidAddress) as caught:
        recipient("Zoë Quillfeather", "zoe.quill@bad..domain")
    assert "domain" in str(caught.value)
    assert_private_text(str(caught.value))


def test_a_crashing_step_is_logged_with_the_enrollment_id(logs, customer, monkeypatch):
    def crash(self, ctx):
        raise RuntimeError("the shop's points service is down")

    monkeypatch.setattr(SignalStep, "execute", crash)
    flow = FlowFactory()
    SignalStepFactory(flow=flow)
    enrollment = EnrollmentFactory(flow=flow, contact=customer)
    engine.run_due()
    crashed = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert crashed
    assert any(str(enrollment.pk) in r.getMessage() for r in crashed)
    assert_private(logs.records)


def test_the_default_batch_run_logs_a_crash_with_the_enrollment_id(logs, customer, monkeypatch):
    """A custom step's execute_batch() that defers to the default one (per enrollment)."""

    def crash(self, ctx):
        raise RuntimeError("the shop's points service is down")

    monkeypatch.setattr(SignalStep, "execute", crash)
    step = SignalStepFactory(flow=FlowFactory())
    enrollment = EnrollmentFactory(flow=step.flow, contact=customer)
    ctx = StepContext(enrollment=enrollment, step=step, batch=Batch(now=clock.now()))
    [result] = Step.execute_batch(step, [ctx])
    assert isinstance(result, Fail)
    assert any(str(enrollment.pk) in r.getMessage() for r in logs.records)
    assert_private(logs.records)
