"""A flow's trigger filter: which trigger events enrol, checked on the event's order
and contact with the same checks a condition step uses, or on a field of the event's
data (``event_data``: e.g. ``category == detractor`` of ``nps_submitted``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from . import conditions
from .models import ConditionStep, Contact, Flow

# Condition fields -> the flow's filter fields, to report errors where staff type.
_FIELDS = {
    "condition": "filter_condition",
    "field": "filter_field",
    "operator": "filter_operator",
    "value": "filter_value",
    "amount": "filter_value",
}


@dataclass
class _EnrolmentContext:
    """What a check sees before any enrollment exists: the order and the contact."""

    snapshot: dict[str, Any]
    contact: Contact | SimpleNamespace


#: The filter that compares a field of the trigger event's data (not a condition check).
EVENT_DATA = "event_data"


def as_condition(flow: Flow) -> ConditionStep:
    """An unsaved condition step carrying the flow's filter, for the shared checks."""
    amount = None
    if flow.filter_condition == ConditionStep.Check.ORDER_TOTAL:
        try:
            amount = Decimal(flow.filter_value.strip().replace(",", "."))
        except (InvalidOperation, ValueError):
            amount = None
    return ConditionStep(
        # An event data field compares like a contact attribute (numbers as numbers).
        condition=(
            ConditionStep.Check.CONTACT_ATTRIBUTE
            if flow.filter_condition == EVENT_DATA
            else flow.filter_condition
        ),
        field=flow.filter_field,
        operator=flow.filter_operator,
        value=flow.filter_value,
        amount=amount,
    )


def validate_trigger_filter(flow: Flow) -> None:
    """Raise ValidationError on the flow's filter fields if the filter is incomplete."""
    if flow.filter_condition == ConditionStep.Check.ORDER_TOTAL and flow.filter_value.strip():
        if as_condition(flow).amount is None:
            raise ValidationError({"filter_value": _("Enter the amount as a number.")})
    try:
        conditions.validate_condition(as_condition(flow))
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for key, messages in exc.message_dict.items():
            if key in _FIELDS:  # branch settings belong to steps, not to filters
                errors.setdefault(_FIELDS[key], []).extend(messages)
        if errors:
            raise ValidationError(errors) from exc


def passes(
    flow: Flow, snapshot: dict[str, Any], contact: Contact, data: dict[str, Any] | None = None
) -> bool:
    """Does a trigger event with this order, contact and event ``data`` enrol in
    ``flow``?"""
    if not flow.filter_condition:
        return True
    if flow.filter_condition == EVENT_DATA:
        fields = SimpleNamespace(attributes=data if isinstance(data, dict) else {})
        return conditions.evaluate(as_condition(flow), _EnrolmentContext(snapshot, fields))
    return conditions.evaluate(as_condition(flow), _EnrolmentContext(snapshot, contact))
