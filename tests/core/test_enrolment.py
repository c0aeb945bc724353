"""Enrolling on events: idempotency, re-entry rules, bad input."""

from __future__ import annotations

from datetime import datetime

import pytest

from postpurchase import track
from postpurchase.exceptions import InvalidEventError
from postpurchase.models import Contact, Enrollment, Event, Flow
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .helpers import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow():
    step = EmailStepFactory(flow=FlowFactory(trigger="order_placed"))
    return step.flow


def test_same_order_twice_gives_one_enrollment(flow, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place()
        place()
    assert Enrollment.objects.count() == 1
    assert Event.objects.filter(name="order_placed").count() == 2
    assert flow.enrollments.get().messages.count() == 1


def test_each_order_enrolls_once_per_order(flow, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place(number="1")
        place(number="2")
    assert Enrollment.objects.count() == 2


def test_once_per_contact(flow, django_capture_on_commit_callbacks):
    flow.reentry = Flow.Reentry.ONCE_PER_CONTACT
    flow.save()
    with django_capture_on_commit_callbacks(execute=True):
        place(number="1")
        place(number="2")
    assert Enrollment.objects.count() == 1


def test_draft_and_paused_flows_do_not_enroll(flow):
    for status in (Flow.Status.DRAFT, Flow.Status.PAUSED):
        flow.status = status
        flow.save()
        place(number=status)
    assert Enrollment.objects.count() == 0


def test_other_triggers_do_not_enroll(flow):
    track("product_viewed", email="anna@example.com")
    assert Enrollment.objects.count() == 0


def test_contact_is_normalised_and_updated(flow):
    place(email="  Anna@Example.COM ", first_name="Anna", locale="ru")
    place(email="anna@example.com", number="2", first_name="Anya", locale="uk")
    contact = Contact.objects.get()
    assert contact.email == "anna@example.com"
    assert (contact.first_name, contact.locale) == ("Anya", "uk")


def test_snapshot_is_stored_on_the_enrollment(flow):
    place(number="77")
    assert Enrollment.objects.get().snapshot["number"] == "77"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "", "email": "a@example.com"}, "event name"),
        ({"name": "x" * 101, "email": "a@example.com"}, "event name"),
        ({"name": "order_placed", "email": "not-an-email"}, "valid email"),
        ({"name": "order_placed", "email": "a@example.com", "data": ["x"]}, "must be a dict"),
        ({"name": "order_placed", "email": "a@example.com", "data": {"x": object()}}, "JSON"),
        (
            {"name": "order_placed", "email": "a@example.com", "occurred_at": datetime(2026, 1, 1)},
            "timezone-aware",
        ),
    ],
)
def test_bad_track_arguments_are_clear_errors(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(InvalidEventError, match=message):
        track(name, **kwargs)
    assert Event.objects.count() == 0
    assert Contact.objects.count() == 0
