"""ConditionStep's checks: validating their parameters and evaluating them.

Each check is a function ``(step, ctx) -> bool``. Every check reads only data that a
re-run sees again (the snapshot, events and messages up to now, a hash), so a condition
that runs twice for the same enrollment takes the same branch unless the world changed
in between (a new order, an open), which is what the check asks about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from postpurchase.models import ConditionStep, Event, Message, Step
from postpurchase.models.steps import register_behaviour
from postpurchase.results import Exit, Fail, JumpTo, Next, StepResult
from postpurchase.segments import OrderHistory, number, order_history

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext

Check = ConditionStep.Check
Action = ConditionStep.Action

#: The event name ``ordered_again`` looks for.
ORDER_EVENT = "order_placed"


# --- validation ----------------------------------------------------------------------


def validate_condition(step: ConditionStep) -> None:
    """Raise ValidationError (keyed by field) if ``step``'s check or branches are
    incomplete or inconsistent. Parameters the check does not use are left alone."""
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    check = step.condition
    operator = step.operator
    if check == Check.ORDER_TOTAL:
        if operator not in ConditionStep.NUMERIC_OPERATORS:
            error("operator", _("Choose one of ==, !=, >, >=, <, <= to compare the total."))
        if step.amount is None:
            error("amount", _("Enter the amount to compare the order total with."))
    elif check == Check.ORDER_CONTAINS:
        if (step.field or "").strip().lower() not in ("category", "sku"):
            error("field", _('Enter "category" or "sku": what to look for in the items.'))
        if not (step.value or "").strip():
            error("value", _("Enter the category or SKU to look for."))
    elif check == Check.ITEM_FIELD_PRESENT:
        if not (step.field or "").strip():
            error("field", _("Enter the item key to look for, e.g. tips."))
    elif check == Check.CONTACT_ATTRIBUTE:
        if not (step.field or "").strip():
            error("field", _("Enter the contact attribute's name."))
        if operator not in ConditionStep.Operator.values:
            error("operator", _("Choose how to compare the attribute."))
        elif operator != ConditionStep.Operator.IS_SET and not (step.value or "").strip():
            error("value", _("Enter the value to compare the attribute with."))
    elif check in ConditionStep.AMOUNT_CHECKS:  # the customer's numbers
        if operator not in ConditionStep.NUMERIC_OPERATORS:
            error("operator", _("Choose one of ==, !=, >, >=, <, <= to compare the number."))
        if step.amount is None:
            error("amount", _("Enter the number to compare with."))
        if check in (Check.TOTAL_SPENT, Check.AVERAGE_ORDER):
            currency = (step.field or "").strip()
            if len(currency) != 3 or not currency.isalpha():
                error("field", _("Enter the currency as a three-letter code, e.g. EUR."))
    elif check == Check.BOUGHT:
        if (step.field or "").strip().lower() not in ("category", "sku"):
            error("field", _('Enter "category" or "sku": what to look for in the orders.'))
        if not (step.value or "").strip():
            error("value", _("Enter the category or SKU to look for."))
    elif check == Check.BIRTHDAY_MONTH:
        if operator not in ("==", "!="):
            error("operator", _('Choose "equals" or "does not equal".'))
        if (step.value or "").strip() not in [str(m) for m in range(1, 13)]:
            error("value", _("Enter the month as a number from 1 to 12."))
    elif check == Check.LANGUAGE:
        if operator not in ("==", "!="):
            error("operator", _('Choose "equals" or "does not equal".'))
        if not (step.value or "").strip():
            error("value", _("Enter the language code, e.g. ru."))
    elif check == Check.RANDOM_PERCENT:
        if step.percent is None or not 0 <= step.percent <= 100:
            error("percent", _("Enter a percentage from 0 to 100."))
    elif check not in Check.values:
        error("condition", _("Choose a condition."))

    for prefix in ("then", "else"):
        action = getattr(step, f"{prefix}_action")
        target_id = getattr(step, f"{prefix}_step_id")
        field = f"{prefix}_step"
        if action == Action.JUMP:
            if target_id is None:
                error(field, _("Choose the step to jump to."))
                continue
            if step.pk is not None and target_id == step.pk:
                error(field, _("A condition cannot jump to itself."))
                continue
            target_flow = (
                Step.objects.non_polymorphic()
                .filter(pk=target_id)
                .values_list("flow_id", flat=True)
                .first()
            )
            if target_flow is None or target_flow != step.flow_id:
                error(field, _("The step to jump to must belong to this flow."))
        elif target_id is not None:
            error(field, _("A step to jump to is used only with the action “jump”."))
    if errors:
        raise ValidationError(errors)
    step.field = (step.field or "").strip()
    step.value = (step.value or "").strip()
    if check in (Check.TOTAL_SPENT, Check.AVERAGE_ORDER):
        step.field = step.field.upper()


# --- evaluation ----------------------------------------------------------------------


def execute(step: ConditionStep, ctx: StepContext) -> StepResult:
    """Continue, jump or exit, as the answer of the check says."""
    if evaluate(step, ctx):
        return _act(step, ctx, True, step.then_action, step.then_step_id, step.then_reason)
    return _act(step, ctx, False, step.else_action, step.else_step_id, step.else_reason)


def _act(
    step: ConditionStep,
    ctx: StepContext,
    answer: bool,
    action: str,
    target_id: int | None,
    reason: str,
) -> StepResult:
    if action == Action.EXIT:
        return Exit(reason or f"condition {step.condition} was {'true' if answer else 'false'}")
    if action == Action.JUMP:
        # The target as the engine holds it (a real subclass instance of this flow).
        index = ctx.batch.step_index(ctx.enrollment.flow_id).get(target_id)
        if index is None:
            which = "then" if answer else "else"
            return Fail(
                f"Step {step}: the {which} jump target was deleted or is in another "
                "flow; fix the condition and retry."
            )
        return JumpTo(ctx.batch.steps(ctx.enrollment.flow_id)[index])
    return Next()


def evaluate(step: ConditionStep, ctx: StepContext) -> bool:
    """The answer of ``step``'s check for the enrollment in ``ctx``."""
    try:
        check = CHECKS[step.condition]
    except KeyError:
        raise ValueError(f"unknown condition {step.condition!r}") from None
    return check(step, ctx)


def _ordered_again(step: ConditionStep, ctx: StepContext) -> bool:
    enrollment = ctx.enrollment
    orders = Event.objects.filter(
        contact_id=enrollment.contact_id,
        name=ORDER_EVENT,
        occurred_at__gt=enrollment.triggered_at,
        # Only what has happened by now: a simulated clock may lag stored events.
        occurred_at__lte=ctx.now,
    )
    if enrollment.trigger_event_id is not None:
        orders = orders.exclude(pk=enrollment.trigger_event_id)
    if enrollment.order_ref:
        orders = orders.exclude(order_ref=enrollment.order_ref)
    return orders.exists()


def _message_flag(field: str) -> Callable[[ConditionStep, StepContext], bool]:
    def check(step: ConditionStep, ctx: StepContext) -> bool:
        # Messages of this enrollment are this flow's emails; tracking fills the field.
        return Message.objects.filter(
            enrollment_id=ctx.enrollment.pk, **{f"{field}__isnull": False}
        ).exists()

    return check


def _order_total(step: ConditionStep, ctx: StepContext) -> bool:
    total = _number(ctx.snapshot.get("total"))
    if total is None or step.amount is None:
        return False
    return _compare(total, step.operator, Decimal(step.amount))


def _items(ctx: StepContext) -> list[dict[str, Any]]:
    items = ctx.snapshot.get("items") or []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _order_contains(step: ConditionStep, ctx: StepContext) -> bool:
    field = step.field.strip().lower()
    wanted = step.value.strip()
    for item in _items(ctx):
        have = str(item.get(field) or "").strip()
        if field == "category" and have.casefold() == wanted.casefold():
            return True
        if field == "sku" and have == wanted:
            return True
    return False


def _item_field_present(step: ConditionStep, ctx: StepContext) -> bool:
    return any(_is_set(item.get(step.field)) for item in _items(ctx))


def _contact_attribute(step: ConditionStep, ctx: StepContext) -> bool:
    attributes = ctx.contact.attributes if isinstance(ctx.contact.attributes, dict) else {}
    present = step.field in attributes
    have = attributes.get(step.field)
    operator = step.operator
    if operator == ConditionStep.Operator.IS_SET:
        return present and _is_set(have)
    if not present or have is None:
        # A missing attribute equals nothing, so it "does not equal" any value.
        return operator == ConditionStep.Operator.NE
    if operator == ConditionStep.Operator.CONTAINS:
        if isinstance(have, list | tuple):
            return any(_as_text(v) == step.value for v in have)
        return step.value.casefold() in _as_text(have).casefold()
    left, right = _number(have), _number(step.value)
    if left is not None and right is not None and not isinstance(have, bool):
        return _compare(left, operator, right)
    # Not both numbers: compare as text, case-insensitively (ISO dates order correctly).
    return _compare(_as_text(have).casefold(), operator, step.value.casefold())


def history(ctx: Any) -> OrderHistory:
    """The contact's order history, computed once per batch (or per trigger filter)."""
    cache = ctx.batch.cache if getattr(ctx, "batch", None) is not None else ctx.__dict__
    key = ("order_history", ctx.contact.pk)
    if key not in cache:
        cache[key] = order_history(ctx.contact.pk, ctx.now)
    return cache[key]


def _orders_count(step: ConditionStep, ctx: StepContext) -> bool:
    return _compare(Decimal(history(ctx).count), step.operator, Decimal(step.amount))


def _total_spent(step: ConditionStep, ctx: StepContext) -> bool:
    return _compare(history(ctx).total_spent(step.field), step.operator, Decimal(step.amount))


def _average_order(step: ConditionStep, ctx: StepContext) -> bool:
    average = history(ctx).average_order(step.field)
    # No order in that currency: there is no average to compare (false, even for "!=").
    return average is not None and _compare(average, step.operator, Decimal(step.amount))


def _bought(step: ConditionStep, ctx: StepContext) -> bool:
    wanted = step.value.strip()
    if step.field.strip().lower() == "category":
        return wanted.casefold() in history(ctx).categories
    return wanted in history(ctx).skus


def _days_since_order(step: ConditionStep, ctx: StepContext) -> bool:
    last = history(ctx).last_order_at
    if last is None:
        return False  # never ordered: no number of days to compare
    days = Decimal((ctx.now - last).days)
    return _compare(days, step.operator, Decimal(step.amount))


def _birthday_month(step: ConditionStep, ctx: StepContext) -> bool:
    birthday = getattr(ctx.contact, "birthday", None)
    same = birthday is not None and str(birthday.month) == step.value.strip()
    return same if step.operator == "==" else birthday is not None and not same


def _language(step: ConditionStep, ctx: StepContext) -> bool:
    # "ru" matches "ru" and "ru-ru": the contact's language, not its region.
    have = (getattr(ctx.contact, "locale", "") or "").strip().lower()
    wanted = step.value.strip().lower().replace("_", "-")
    same = have == wanted or have.split("-")[0] == wanted
    return same if step.operator == "==" else not same


def _random_percent(step: ConditionStep, ctx: StepContext) -> bool:
    return bucket(ctx.enrollment.pk, step.pk) < (step.percent or 0) * 100


def bucket(enrollment_id: int, step_id: int) -> int:
    """A stable number 0-9999 for this (enrollment, step): the A/B split's dice, the
    same on every run and every machine (unlike ``hash()``, which is salted)."""
    digest = hashlib.sha256(f"postpurchase:{enrollment_id}:{step_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


CHECKS: dict[str, Callable[[ConditionStep, StepContext], bool]] = {
    Check.ORDERED_AGAIN: _ordered_again,
    Check.OPENED: _message_flag("opened_at"),
    Check.CLICKED: _message_flag("clicked_at"),
    Check.ORDER_TOTAL: _order_total,
    Check.ORDER_CONTAINS: _order_contains,
    Check.ITEM_FIELD_PRESENT: _item_field_present,
    Check.CONTACT_ATTRIBUTE: _contact_attribute,
    Check.RANDOM_PERCENT: _random_percent,
    Check.ORDERS_COUNT: _orders_count,
    Check.TOTAL_SPENT: _total_spent,
    Check.AVERAGE_ORDER: _average_order,
    Check.BOUGHT: _bought,
    Check.DAYS_SINCE_ORDER: _days_since_order,
    Check.BIRTHDAY_MONTH: _birthday_month,
    Check.LANGUAGE: _language,
}


# --- helpers -------------------------------------------------------------------------


def _is_set(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value not in (None, [], {}, ())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


#: A number from a snapshot or an attribute (shared with the segments).
_number = number


def _compare(left: Any, operator: str, right: Any) -> bool:
    if operator == "==":
        return left == right
    if operator == "!=":
        return left != right
    if operator == ">":
        return left > right
    if operator == ">=":
        return left >= right
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    raise ValueError(f"operator {operator!r} does not compare values")


register_behaviour(ConditionStep, execute=execute, clean=validate_condition)
