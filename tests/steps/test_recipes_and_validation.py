"""The new step types in recipe specs, and in the go-live check."""

from __future__ import annotations

import pytest

from postpurchase.flows.validation import validate_flow
from postpurchase.models import ConditionStep, DelayStep, NotifyStaffStep, SignalStep
from postpurchase.recipes import STEP_TYPES, create_steps
from postpurchase.testing.factories import FlowFactory

pytestmark = pytest.mark.django_db

SPECS = [
    {
        "type": "condition",
        "condition": "order_total",
        "operator": ">=",
        "amount": "10000",
        "then_action": "jump",
        "then_step": {"step": "vip"},
    },
    {
        "type": "delay",
        "relative_to": "event",
        "event_name": "order_delivered",
        "days": 3,
        "max_wait_days": 20,
        "on_timeout": "exit",
        "window_start_hour": 9,
        "window_end_hour": 20,
        "weekdays": "01234",
    },
    {"type": "signal", "action": "ask-for-review"},
    {
        "type": "notify_staff",
        "key": "vip",
        "recipients": "vip-care@example.com",
        "subject": "Big order {{ order.number }}",
        "body": "{{ contact.email }} spent {{ order.total }}: {{ admin_url }}",
    },
]


def test_step_types_are_registered():
    assert STEP_TYPES["condition"] is ConditionStep
    assert STEP_TYPES["notify_staff"] is NotifyStaffStep
    assert STEP_TYPES["signal"] is SignalStep


def test_recipe_specs_create_valid_steps():
    flow = FlowFactory(status="draft")
    condition, delay, signal, notify = create_steps(flow, SPECS, {}, where="test")
    condition.refresh_from_db()
    assert condition.then_step_id == notify.pk
    assert isinstance(delay, DelayStep) and delay.max_wait_days == 20
    for step in (condition, delay, signal, notify):
        step.full_clean()
    assert validate_flow(flow) == []


def test_go_live_check_reports_a_foreign_jump_target():
    flow = FlowFactory(status="draft")
    elsewhere = SignalStep.objects.create(flow=FlowFactory(), position=1, action="x")
    ConditionStep.objects.create(
        flow=flow, position=1, condition="opened", then_action="jump", then_step=elsewhere
    )
    problems = [str(p) for p in validate_flow(flow)]
    assert any("must belong to this flow" in p for p in problems), problems
