"""ConditionStep: every check both ways, each action, the A/B split, clean()."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from postpurchase import signals
from postpurchase.models import ConditionStep, Enrollment, Message
from postpurchase.results import Exit, Next
from postpurchase.steps.condition import bucket
from postpurchase.testing.factories import (
    ConditionStepFactory,
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
    SignalStepFactory,
    order_snapshot,
)

from ..core.helpers import run_due
from .helpers import context, refreshed

pytestmark = pytest.mark.django_db


def answer(frozen, contact=None, snapshot=None, enrollment_kwargs=None, **condition):
    """Run a flow of one condition (true: exit "yes", false: exit "no"); the answer."""
    flow = FlowFactory()
    ConditionStepFactory(
        flow=flow,
        then_action="exit",
        then_reason="yes",
        else_action="exit",
        else_reason="no",
        **condition,
    )
    kwargs = dict(enrollment_kwargs or {})
    if contact is not None:
        kwargs["contact"] = contact
    if snapshot is not None:
        kwargs["snapshot"] = snapshot
    enrollment = EnrollmentFactory(flow=flow, **kwargs)
    run_due()
    enrollment = refreshed(enrollment)
    assert enrollment.status == Enrollment.Status.EXITED
    return {"yes": True, "no": False}[enrollment.exit_reason]


# --- ordered_again --------------------------------------------------------------------


@pytest.fixture
def earlier(frozen):
    """Enrollment kwargs: triggered a day ago, for order 1."""
    return {"triggered_at": frozen.now - timedelta(days=1), "order_ref": "shop.order:1"}


def test_ordered_again_false_without_another_order(frozen, earlier):
    contact = ContactFactory()
    assert answer(frozen, contact, enrollment_kwargs=earlier, condition="ordered_again") is False


def test_ordered_again_true_after_a_new_order(frozen, earlier):
    contact = ContactFactory()
    EventFactory(
        contact=contact, order_ref="shop.order:2", occurred_at=frozen.now - timedelta(hours=1)
    )
    assert answer(frozen, contact, enrollment_kwargs=earlier, condition="ordered_again") is True


@pytest.mark.parametrize(
    "event",
    [
        {"order_ref": "shop.order:1", "hours_ago": 1},  # the same order again
        {"order_ref": "shop.order:2", "hours_ago": 48},  # before the enrollment
        {"order_ref": "shop.order:2", "hours_ago": 1, "name": "order_shipped"},  # not an order
    ],
)
def test_ordered_again_ignores_other_events(frozen, earlier, event):
    contact = ContactFactory()
    EventFactory(
        contact=contact,
        name=event.get("name", "order_placed"),
        order_ref=event["order_ref"],
        occurred_at=frozen.now - timedelta(hours=event["hours_ago"]),
    )
    assert answer(frozen, contact, enrollment_kwargs=earlier, condition="ordered_again") is False


def test_ordered_again_ignores_other_contacts(frozen, earlier):
    EventFactory(order_ref="shop.order:2", occurred_at=frozen.now - timedelta(hours=1))
    assert answer(frozen, enrollment_kwargs=earlier, condition="ordered_again") is False


# --- opened / clicked -------------------------------------------------------------------


@pytest.mark.parametrize("check,field", [("opened", "opened_at"), ("clicked", "clicked_at")])
@pytest.mark.parametrize("tracked", [True, False])
def test_opened_and_clicked_read_the_messages(frozen, check, field, tracked):
    flow = FlowFactory()
    email = EmailStepFactory(flow=flow, position=1)
    condition = ConditionStepFactory(
        flow=flow, position=2, condition=check, then_action="exit", then_reason="yes"
    )
    enrollment = EnrollmentFactory(flow=flow, step=condition)
    Message.objects.create(
        enrollment=enrollment,
        step=email,
        contact=enrollment.contact,
        to_email=enrollment.contact.email,
        category="marketing",
        status="sent",
        created_at=frozen.now,
        **{field: frozen.now if tracked else None},
    )
    run_due()
    enrollment = refreshed(enrollment)
    if tracked:
        assert (enrollment.status, enrollment.exit_reason) == ("exited", "yes")
    else:
        assert enrollment.status == "completed"


def test_opened_ignores_other_enrollments(frozen):
    flow = FlowFactory()
    email = EmailStepFactory(flow=flow, position=1)
    other = EnrollmentFactory(flow=flow)
    Message.objects.create(
        enrollment=other,
        step=email,
        contact=other.contact,
        to_email=other.contact.email,
        category="marketing",
        created_at=frozen.now,
        opened_at=frozen.now,
    )
    condition = ConditionStepFactory(flow=flow, position=2, condition="opened")
    enrollment = EnrollmentFactory(flow=flow, step=condition)
    ctx = context(enrollment, condition, frozen.now)
    assert condition.execute(ctx) == Next()


# --- order total, contents, item fields ------------------------------------------------


@pytest.mark.parametrize(
    "operator,amount,expected",
    [
        (">=", "6970.00", True),
        (">=", "6970.01", False),
        (">", "6969.99", True),
        (">", "6970", False),
        ("<=", "6970", True),
        ("<=", "100", False),
        ("<", "7000", True),
        ("<", "6970", False),
        ("==", "6970", True),
        ("==", "6970.5", False),
    ],
)
def test_order_total(frozen, operator, amount, expected):
    snapshot = order_snapshot()
    assert snapshot["total"] == "6970.00"
    got = answer(
        frozen,
        snapshot=snapshot,
        condition="order_total",
        operator=operator,
        amount=Decimal(amount),
    )
    assert got is expected


def test_order_total_missing_is_false(frozen):
    snapshot = order_snapshot()
    del snapshot["total"]
    assert (
        answer(frozen, snapshot=snapshot, condition="order_total", operator=">=", amount=0) is False
    )


@pytest.mark.parametrize(
    "field,value,expected",
    [
        ("category", "backpacks", True),  # case-insensitive
        ("category", "ACCESSORIES", True),
        ("category", "Shoes", False),
        ("sku", "SKU-2", True),
        ("sku", "SKU-9", False),
        ("sku", "sku-2", False),  # SKUs match exactly
    ],
)
def test_order_contains(frozen, field, value, expected):
    got = answer(frozen, condition="order_contains", field=field, value=value)
    assert got is expected


@pytest.mark.parametrize(
    "tips,expected", [("Wash cold", True), ("", False), ("   ", False), (None, False)]
)
def test_item_field_present(frozen, tips, expected):
    snapshot = order_snapshot()
    if tips is not None:
        snapshot["items"][1]["tips"] = tips
    got = answer(frozen, snapshot=snapshot, condition="item_field_present", field="tips")
    assert got is expected


# --- contact attributes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,operator,value,expected",
    [
        ("tier", "==", "gold", True),
        ("tier", "==", "silver", False),
        ("tier", "!=", "silver", True),
        ("tier", "!=", "Gold", False),
        ("orders", ">=", "5", True),
        ("orders", ">=", "6", False),
        ("orders", "<=", "10", True),
        ("orders", "<=", "4", False),
        ("orders", "==", "5.0", True),  # numbers compare as numbers
        ("since", ">=", "2026-01-01", True),  # ISO dates compare as text
        ("since", "<=", "2025-12-31", False),
        ("tags", "contains", "vip", True),
        ("tags", "contains", "new", False),
        ("tier", "contains", "OL", True),
        ("tier", "is_set", "", True),
        ("empty", "is_set", "", False),
        ("missing", "is_set", "", False),
        ("missing", "==", "x", False),
        ("missing", "!=", "x", True),
        ("vip", "==", "true", True),
    ],
)
def test_contact_attribute(frozen, key, operator, value, expected):
    contact = ContactFactory(
        attributes={
            "tier": "Gold",
            "orders": 5,
            "since": "2026-03-01",
            "tags": ["vip", "newsletter"],
            "empty": "",
            "vip": True,
        }
    )
    got = answer(
        frozen, contact, condition="contact_attribute", field=key, operator=operator, value=value
    )
    assert got is expected


# --- random split ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "enrollment_id,step_id,expected",
    [(1, 1, 3532), (2, 1, 7680), (1, 2, 5295), (42, 7, 3067), (123456, 789, 5360)],
)
def test_bucket_is_the_same_on_every_run_and_machine(enrollment_id, step_id, expected):
    """Pinned: sha256("postpurchase:<enrollment>:<step>"), first 8 bytes, mod 10,000. A
    salted hash() or any change of the formula would move running A/B tests' customers."""
    assert bucket(enrollment_id, step_id) == expected


@pytest.mark.parametrize(
    "enrollment_id,expected",
    [
        (900001, "completed"),  # bucket 5464
        (900002, "completed"),  # bucket 3922
        (900004, "exited"),  # bucket 759 < 30 %
        (900005, "exited"),  # bucket 853
    ],
)
def test_random_split_puts_an_enrollment_in_its_bucket(frozen, enrollment_id, expected):
    flow = FlowFactory()
    split = ConditionStepFactory(
        pk=900001,
        flow=flow,
        condition="random_percent",
        percent=30,
        then_action="exit",
        then_reason="B",
    )
    enrollment = EnrollmentFactory(pk=enrollment_id, flow=flow, step=split)
    ctx = context(enrollment, split, frozen.now)
    assert split.execute(ctx) == (Exit("B") if expected == "exited" else Next())
    run_due()
    assert refreshed(enrollment).status == expected


def test_random_split_is_proportional_and_independent_per_step(frozen):
    flow = FlowFactory()
    split = ConditionStepFactory(
        flow=flow, condition="random_percent", percent=30, then_action="exit", then_reason="B"
    )
    contact = ContactFactory()
    Enrollment.objects.bulk_create(
        Enrollment(
            flow=flow,
            contact=contact,
            dedupe_key=f"ab:{i}",
            step=split,
            triggered_at=frozen.now,
            step_entered_at=frozen.now,
            due_at=frozen.now,
        )
        for i in range(1000)
    )
    ids = list(Enrollment.objects.values_list("pk", flat=True))
    # The engine splits about 30/70.
    run_due()
    b = Enrollment.objects.filter(status="exited", exit_reason="B").count()
    a = Enrollment.objects.filter(status="completed").count()
    assert a + b == 1000
    assert 250 <= b <= 350, b
    # A second step with the same percentage splits independently of the first.
    other = ConditionStepFactory(flow=flow, condition="random_percent", percent=30)
    same = sum(bucket(i, split.pk) < 3000 and bucket(i, other.pk) < 3000 for i in ids)
    assert 40 <= same <= 140, same  # ~ 0.3 * 0.3 * 1000 = 90


@pytest.mark.parametrize("percent,expected", [(0, False), (100, True)])
def test_random_split_extremes(frozen, percent, expected):
    assert answer(frozen, condition="random_percent", percent=percent) is expected


# --- actions ---------------------------------------------------------------------------


@pytest.fixture
def actions_fired():
    fired = []

    def receiver(sender, action, **kwargs):
        fired.append(action)

    signals.step_action.connect(receiver)
    yield fired
    signals.step_action.disconnect(receiver)


def branching_flow(**condition):
    """condition (position 1) -> signal "second" -> signal "third"."""
    flow = FlowFactory()
    step = ConditionStepFactory(flow=flow, position=1, **condition)
    SignalStepFactory(flow=flow, position=2, action="second")
    third = SignalStepFactory(flow=flow, position=3, action="third")
    return flow, step, third


def test_continue_goes_on_with_the_next_step(frozen, actions_fired):
    flow, *_ = branching_flow(condition="random_percent", percent=100, then_action="continue")
    enrollment = EnrollmentFactory(flow=flow)
    run_due()
    assert refreshed(enrollment).status == "completed"
    assert actions_fired == ["second", "third"]


@pytest.mark.parametrize("percent,branch", [(100, "then"), (0, "else")])
def test_jump_skips_to_the_target(frozen, actions_fired, percent, branch):
    flow, step, third = branching_flow(condition="random_percent", percent=percent)
    setattr(step, f"{branch}_action", "jump")
    setattr(step, f"{branch}_step", third)
    step.full_clean()
    step.save()
    enrollment = EnrollmentFactory(flow=flow)
    run_due()
    assert refreshed(enrollment).status == "completed"
    assert actions_fired == ["third"]


def test_exit_ends_the_enrollment_with_the_reason(frozen, actions_fired):
    flow, *_ = branching_flow(
        condition="random_percent", percent=0, else_action="exit", else_reason="control group"
    )
    enrollment = EnrollmentFactory(flow=flow)
    run_due()
    enrollment = refreshed(enrollment)
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "control group")
    assert actions_fired == []


def test_exit_without_reason_says_which_branch(frozen):
    flow, step, _ = branching_flow(condition="random_percent", percent=100, then_action="exit")
    ctx = context(EnrollmentFactory(flow=flow), step, frozen.now)
    assert step.execute(ctx) == Exit("condition random_percent was true")


def test_deleted_jump_target_fails_the_enrollment(frozen):
    flow, step, third = branching_flow(condition="random_percent", percent=100, then_action="jump")
    step.then_step = third
    step.save()
    enrollment = EnrollmentFactory(flow=flow)
    ConditionStep.objects.filter(pk=step.pk).update(then_step=None)  # as SET_NULL leaves it
    run_due()
    enrollment = refreshed(enrollment)
    assert enrollment.status == "failed"
    assert "jump target" in enrollment.last_error


# --- clean() -----------------------------------------------------------------------------


def errors(**fields):
    flow = fields.pop("flow", None) or FlowFactory()
    step = ConditionStep(flow=flow, position=1, **fields)
    with pytest.raises(ValidationError) as info:
        step.full_clean()
    return info.value.message_dict


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"condition": "order_total", "operator": ">="}, "amount"),
        ({"condition": "order_total", "operator": "contains", "amount": 1}, "operator"),
        ({"condition": "order_total", "amount": 1}, "operator"),
        ({"condition": "order_contains", "field": "colour", "value": "red"}, "field"),
        ({"condition": "order_contains", "field": "sku"}, "value"),
        ({"condition": "item_field_present"}, "field"),
        ({"condition": "contact_attribute", "operator": "==", "value": "x"}, "field"),
        ({"condition": "contact_attribute", "field": "tier", "operator": "=="}, "value"),
        ({"condition": "contact_attribute", "field": "tier"}, "operator"),
        ({"condition": "random_percent"}, "percent"),
        ({"condition": "random_percent", "percent": 101}, "percent"),
        ({"condition": "nonsense"}, "condition"),
        ({"condition": "ordered_again", "then_action": "jump"}, "then_step"),
        ({"condition": "ordered_again", "else_action": "jump"}, "else_step"),
    ],
)
def test_clean_names_the_bad_field(fields, field):
    assert field in errors(**fields)


def test_clean_rejects_a_jump_into_another_flow():
    other = SignalStepFactory()
    found = errors(condition="ordered_again", then_action="jump", then_step=other)
    assert found["then_step"] == ["The step to jump to must belong to this flow."]


def test_clean_rejects_a_target_without_jump():
    target = SignalStepFactory()
    found = errors(flow=target.flow, condition="ordered_again", else_step=target)
    assert "else_step" in found


def test_clean_rejects_a_jump_to_itself():
    step = ConditionStepFactory(condition="ordered_again")
    step.then_action = "jump"
    step.then_step_id = step.pk
    with pytest.raises(ValidationError) as info:
        step.full_clean()
    assert "then_step" in info.value.message_dict


def test_clean_accepts_complete_conditions():
    flow = FlowFactory()
    target = SignalStepFactory(flow=flow, position=3)
    for fields in [
        {"condition": "ordered_again", "then_action": "jump", "then_step": target},
        {"condition": "opened"},
        {"condition": "order_total", "operator": "<", "amount": Decimal("50")},
        {"condition": "order_contains", "field": " Category ", "value": "Backpacks"},
        {"condition": "item_field_present", "field": "tips"},
        {"condition": "contact_attribute", "field": "tier", "operator": "is_set"},
        {"condition": "random_percent", "percent": 50},
    ]:
        ConditionStep(flow=flow, position=1, **fields).full_clean()
