"""A flow's trigger filter decides which trigger events enroll."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from postpurchase.models import Enrollment, Flow
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .helpers import place

pytestmark = pytest.mark.django_db


def flow_with(**filters) -> Flow:
    flow = FlowFactory(**filters)
    flow.full_clean()
    EmailStepFactory(flow=flow)
    return flow


def enrolled_numbers() -> set[str]:
    return {e.snapshot["number"] for e in Enrollment.objects.all()}


def test_order_total_filter():
    flow_with(filter_condition="order_total", filter_operator=">=", filter_value="5000")
    place(number="small", items=1)  # 1 990
    place(number="big", items=3)  # 1 990 + 2 × 2 990 + 3 990
    assert enrolled_numbers() == {"big"}


def test_order_contains_category_filter():
    flow_with(filter_condition="order_contains", filter_field="category", filter_value="backpacks")
    place(number="has", items=1)  # item 1 is in Backpacks
    place(number="not", items=0)
    assert enrolled_numbers() == {"has"}


def test_contact_attribute_filter():
    from postpurchase.models import Contact

    flow_with(
        filter_condition="contact_attribute",
        filter_field="vip",
        filter_operator="==",
        filter_value="true",
    )
    Contact.objects.create(email="vip@example.com", attributes={"vip": True})
    place(email="vip@example.com", number="vip")
    place(email="other@example.com", number="other")
    assert enrolled_numbers() == {"vip"}


def test_no_filter_enrolls_everyone():
    flow_with()
    place(number="1")
    assert enrolled_numbers() == {"1"}


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"filter_condition": "order_total", "filter_operator": ">="}, "filter_value"),
        (
            {"filter_condition": "order_total", "filter_operator": ">=", "filter_value": "lots"},
            "filter_value",
        ),
        ({"filter_condition": "order_total", "filter_value": "10"}, "filter_operator"),
        ({"filter_condition": "order_contains", "filter_field": "colour"}, "filter_field"),
        ({"filter_condition": "contact_attribute", "filter_operator": "=="}, "filter_field"),
    ],
)
def test_incomplete_filter_names_the_field(filters, field):
    flow = FlowFactory.build(slug="f", **filters)
    with pytest.raises(ValidationError) as caught:
        flow.full_clean()
    assert field in caught.value.message_dict


def test_going_live_checks_the_filter():
    from postpurchase.flows.validation import launch

    flow = FlowFactory(status="draft", filter_condition="order_total", filter_operator=">=")
    EmailStepFactory(flow=flow)
    problems = [str(p) for p in launch(flow)]
    assert any("amount" in p for p in problems), problems
