"""Customer checks (segments) of condition steps and trigger filters, computed from the
app's own order events."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from postpurchase import clock, track
from postpurchase.engine import upsert_contact
from postpurchase.models import ConditionStep, Enrollment
from postpurchase.segments import order_history
from postpurchase.testing.factories import (
    ConditionStepFactory,
    ContactFactory,
    EmailStepFactory,
    EventFactory,
    FlowFactory,
    order_snapshot,
)

from .test_condition import answer

pytestmark = pytest.mark.django_db


def order(contact, number, total, currency="EUR", days_ago=10, items=None, name="order_placed"):
    snapshot = order_snapshot(email=contact.email, number=number, total=total, currency=currency)
    if items is not None:
        snapshot["items"] = items
    return EventFactory(
        contact=contact,
        name=name,
        order_ref=f"shop.order:{number}",
        snapshot=snapshot,
        occurred_at=clock.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def customer(frozen):
    contact = ContactFactory(locale="ru-ru", birthday=date(1990, 3, 8))
    order(contact, "1", "100.00", days_ago=40, items=[{"sku": "LENS-30", "category": "Lenses"}])
    order(contact, "2", "50.00", days_ago=12, items=[{"sku": "CASE", "category": "Cases"}])
    order(contact, "3", "3000", currency="RUB", days_ago=20, items=[])
    order(contact, "4", "999.00", days_ago=5, items=[{"category": "Gifts"}])
    order(contact, "4", "999.00", days_ago=4, name="order_refunded")  # does not count
    return contact


def test_order_history(customer):
    history = order_history(customer.pk, clock.now())
    assert history.count == 3
    assert history.total_spent("eur") == Decimal("150.00")
    assert history.average_order("EUR") == Decimal("75")
    assert history.average_order("USD") is None
    assert history.categories == {"lenses", "cases"}
    assert history.last_order_at == clock.now() - timedelta(days=12)


@pytest.mark.parametrize(
    "check, field, operator, amount, expected",
    [
        ("orders_count", "", ">=", 3, True),
        ("orders_count", "", ">", 3, False),
        ("total_spent", "EUR", ">=", 150, True),
        ("total_spent", "eur", ">", 150, False),
        ("total_spent", "RUB", "==", 3000, True),
        ("average_order", "EUR", "==", 75, True),
        ("average_order", "USD", "!=", 75, False),  # no order in USD: no average
        ("days_since_order", "", ">=", 12, True),
        ("days_since_order", "", ">", 12, False),
    ],
)
def test_numeric_customer_checks(frozen, customer, check, field, operator, amount, expected):
    result = answer(
        frozen, contact=customer, condition=check, field=field, operator=operator, amount=amount
    )
    assert result == expected


@pytest.mark.parametrize(
    "field, value, expected",
    [("category", "lenses", True), ("sku", "LENS-30", True), ("sku", "lens-30", False)],
)
def test_ever_bought(frozen, customer, field, value, expected):
    assert (
        answer(frozen, contact=customer, condition="bought", field=field, value=value) == expected
    )


def test_a_customer_without_orders(frozen):
    contact = ContactFactory()
    assert (
        answer(frozen, contact=contact, condition="orders_count", operator="==", amount=0) is True
    )
    result = answer(frozen, contact=contact, condition="days_since_order", operator=">", amount=1)
    assert result is False


@pytest.mark.parametrize(
    "operator, value, expected", [("==", "3", True), ("==", "4", False), ("!=", "4", True)]
)
def test_birthday_month(frozen, customer, operator, value, expected):
    result = answer(
        frozen, contact=customer, condition="birthday_month", operator=operator, value=value
    )
    assert result == expected


def test_birthday_month_unknown_is_neither(frozen):
    contact = ContactFactory()
    for operator in ("==", "!="):
        result = answer(
            frozen, contact=contact, condition="birthday_month", operator=operator, value="3"
        )
        assert result is False


@pytest.mark.parametrize(
    "operator, value, expected", [("==", "ru", True), ("==", "uk", False), ("!=", "uk", True)]
)
def test_language(frozen, customer, operator, value, expected):
    result = answer(frozen, contact=customer, condition="language", operator=operator, value=value)
    assert result == expected


@pytest.mark.parametrize(
    "field, operator, value, expected",
    [
        ("age_band", "==", "25-34", True),
        ("gender", "==", "f", True),
        ("city", "==", "kazan", True),
        ("country", "!=", "RU", False),
    ],
)
def test_attributes_given_by_the_adapter(frozen, field, operator, value, expected):
    contact = upsert_contact(
        "lena@example.com",
        {"attributes": {"age_band": "25-34", "gender": "f", "city": "Kazan", "country": "RU"}},
    )
    result = answer(
        frozen,
        contact=contact,
        condition="contact_attribute",
        field=field,
        operator=operator,
        value=value,
    )
    assert result == expected


def test_the_adapter_fills_birthday_and_merges_attributes(frozen):
    contact = upsert_contact(
        "lena@example.com", {"birthday": "1992-02-29", "attributes": {"city": "Kazan"}}
    )
    assert contact.birthday == date(1992, 2, 29)
    contact = upsert_contact("lena@example.com", {"attributes": {"age_band": "25-34"}})
    assert contact.attributes == {"city": "Kazan", "age_band": "25-34"}
    # Bad values are left out, never a crash.
    contact = upsert_contact(
        "lena@example.com", {"birthday": "someday", "attributes": {"nested": {"a": 1}}}
    )
    assert contact.birthday == date(1992, 2, 29)
    assert "nested" not in contact.attributes
    assert upsert_contact("new@example.com", {"birthday": "2999-01-01"}).birthday is None


@pytest.mark.parametrize(
    "params, field",
    [
        ({"condition": "orders_count", "operator": "contains", "amount": 1}, "operator"),
        ({"condition": "orders_count", "operator": ">"}, "amount"),
        ({"condition": "total_spent", "operator": ">", "amount": 1, "field": "euro"}, "field"),
        ({"condition": "bought", "field": "colour", "value": "red"}, "field"),
        ({"condition": "bought", "field": "sku"}, "value"),
        ({"condition": "birthday_month", "operator": "==", "value": "13"}, "value"),
        ({"condition": "birthday_month", "operator": ">", "value": "3"}, "operator"),
        ({"condition": "language", "operator": "=="}, "value"),
    ],
)
def test_incomplete_customer_checks_are_refused(params, field):
    step = ConditionStepFactory.build(flow=FlowFactory(), **params)
    with pytest.raises(ValidationError) as error:
        step.clean()
    assert field in error.value.message_dict


def test_a_trigger_filter_on_the_number_of_orders_enrolls_repeat_customers(frozen):
    flow = FlowFactory(
        filter_condition="orders_count", filter_operator=">=", filter_value="2", exit_events=[]
    )
    EmailStepFactory(flow=flow)
    flow.full_clean()
    for number in ("1", "2"):
        snapshot = order_snapshot(email="ivan@example.com", number=number, ref=f"o:{number}")
        track(
            "order_placed",
            email="ivan@example.com",
            data={"order": snapshot},
            order_ref=f"o:{number}",
        )
    # The first order made a one-order customer; the second, a repeat one.
    assert list(Enrollment.objects.filter(flow=flow).values_list("order_ref", flat=True)) == ["o:2"]


def test_a_trigger_filter_on_the_total_spent(frozen):
    flow = FlowFactory(
        filter_condition="total_spent",
        filter_field="EUR",
        filter_operator=">",
        filter_value="1000",
    )
    flow.full_clean()
    assert ConditionStep.Check.TOTAL_SPENT in dict(Flow_choices())


def Flow_choices():
    from postpurchase.models import Flow

    return Flow._meta.get_field("filter_condition").choices
