"""Created and updated timestamps come from the app clock, so a simulated run (the
demo's --simulate, tests) records simulated times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postpurchase import clock, engine
from postpurchase.models import CouponPolicy, Enrollment, Event, StepRecord
from postpurchase.testing.factories import EmailTemplateFactory, FlowFactory, SignalStepFactory

from .helpers import place

pytestmark = pytest.mark.django_db

SIMULATED = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


def test_records_carry_the_simulated_time():
    with clock.frozen_at(SIMULATED) as simulated:
        flow = FlowFactory(trigger="order_placed")
        SignalStepFactory(flow=flow, position=1)
        template = EmailTemplateFactory()
        policy = CouponPolicy.objects.create(
            name="10%", kind=CouponPolicy.Kind.PERCENT, percent=10, currency="RUB"
        )
        place()
        engine.run_due()
        enrollment = Enrollment.objects.select_related("contact").get()
        content = template.contents.get()
        record = StepRecord.objects.get()
        stamps = {
            "flow.created_at": flow.created_at,
            "flow.updated_at": flow.updated_at,
            "template.created_at": template.created_at,
            "template.updated_at": template.updated_at,
            "content.updated_at": content.updated_at,
            "policy.created_at": policy.created_at,
            "contact.created_at": enrollment.contact.created_at,
            "contact.updated_at": enrollment.contact.updated_at,
            "event.created_at": Event.objects.get().created_at,
            "enrollment.created_at": enrollment.created_at,
            "record.updated_at": record.updated_at,
        }
        assert stamps == dict.fromkeys(stamps, SIMULATED)

        later = simulated.advance(timedelta(days=3))
        flow.name = "Renamed"
        flow.save()
        place(number="1002", first_name="Anya")  # updates the contact's name
        flow.refresh_from_db()
        contact = enrollment.contact
        contact.refresh_from_db()
    assert (flow.created_at, flow.updated_at) == (SIMULATED, later)
    assert (contact.created_at, contact.updated_at) == (SIMULATED, later)
