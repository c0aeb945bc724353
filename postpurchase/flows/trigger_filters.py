"""A flow's trigger filter: which trigger events enroll, checked on the event's order
and contact with the same checks a condition step uses, or on a field of the event's
data (``event_data``: e.g. ``category == detractor`` of ``nps_submitted``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from postpurchase import clock
from postpurchase.models import Contact, Flow
from postpurchase.models.flows import EVENT_DATA, as_condition
from postpurchase.steps import condition as conditions


@dataclass
class _EnrollmentContext:
    """What a check sees before any enrollment exists: the order and the contact."""

    snapshot: dict[str, Any]
    contact: Contact | SimpleNamespace
    now: datetime = field(default_factory=clock.now)


def passes(
    flow: Flow, snapshot: dict[str, Any], contact: Contact, data: dict[str, Any] | None = None
) -> bool:
    """Does a trigger event with this order, contact and event ``data`` enroll in
    ``flow``?"""
    if not flow.filter_condition:
        return True
    if flow.filter_condition == EVENT_DATA:
        fields = SimpleNamespace(attributes=data if isinstance(data, dict) else {})
        return conditions.evaluate(as_condition(flow), _EnrollmentContext(snapshot, fields))
    return conditions.evaluate(as_condition(flow), _EnrollmentContext(snapshot, contact))
