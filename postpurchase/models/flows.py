from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField
from postpurchase.models.steps import ConditionStep

# Checks a trigger filter may use: those that need only the order and the contact.
TRIGGER_FILTER_CHECKS = (
    "order_total",
    "order_contains",
    "item_field_present",
    "contact_attribute",
    *ConditionStep.CUSTOMER_CHECKS,
)


class Flow(models.Model):
    """A series of steps that a trigger event starts for a contact."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")

    class Reentry(models.TextChoices):
        ONCE_PER_ORDER = "once_per_order", _("Once per order")
        ONCE_PER_CONTACT = "once_per_contact", _("Once per contact")
        EVERY_TIME = "every_time", _("Every time the trigger fires")
        ONCE_PER_PERIOD = "once_per_period", _("At most once per N days per contact")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    trigger = models.CharField(
        _("trigger event"),
        max_length=100,
        db_index=True,
        help_text=_('The event that enrolls a contact, e.g. "order_placed".'),
    )
    trigger_days = models.PositiveIntegerField(
        _("trigger: days"),
        null=True,
        blank=True,
        help_text=_(
            "For a date trigger: how many days (since the last order, since an order, "
            "before the birthday, the anniversary or a coupon's last day). Leave empty "
            "for the other triggers."
        ),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    reentry = models.CharField(
        _("re-entry"), max_length=20, choices=Reentry.choices, default=Reentry.ONCE_PER_ORDER
    )
    reentry_days = models.PositiveIntegerField(
        _("re-entry period (days)"),
        null=True,
        blank=True,
        help_text=_(
            'With "at most once per N days": a contact enrolled within this many days is '
            "not enrolled again."
        ),
    )
    exit_events = models.JSONField(
        _("exit events"),
        default=list,
        blank=True,
        help_text=_(
            "Events that end a running enrollment, e.g. order_cancelled. An event about an "
            "order ends only that order's enrollments."
        ),
    )
    # An event that counts as this flow's goal when it follows a human click (or open)
    # of one of its emails within the attribution window, e.g. review_submitted.
    goal_event = models.CharField(
        _("goal event"),
        max_length=100,
        blank=True,
        help_text=_(
            "Optional: an event that counts as a goal conversion of this flow when the "
            "contact clicked one of its emails shortly before, e.g. a review submitted. "
            "Orders placed after a click always count as conversions."
        ),
    )
    # Trigger filter: only trigger events whose order (or contact) passes this check
    # enroll. The same checks as a condition step, limited to what is known at enrollment.
    filter_condition = models.CharField(
        _("trigger filter"),
        max_length=20,
        blank=True,
        # The condition step's checks that need no enrollment, plus the event's data.
        choices=[
            (check.value, check.label)
            for check in ConditionStep.Check
            if check.value in TRIGGER_FILTER_CHECKS
        ]
        + [("event_data", _("a field of the trigger event's data compares to a value"))],
        help_text=_("Leave empty to enroll on every trigger event."),
    )
    filter_field = models.CharField(
        _("filter: field"),
        max_length=100,
        blank=True,
        help_text=_(
            '"category" or "sku", the item key, the contact attribute, or the key of the '
            "event's data (e.g. category of nps_submitted)."
        ),
    )
    filter_operator = models.CharField(
        _("filter: operator"),
        max_length=10,
        blank=True,
        choices=ConditionStep.Operator.choices,
    )
    filter_value = models.CharField(
        _("filter: value"),
        max_length=200,
        blank=True,
        help_text=_("The amount, category, SKU or attribute value to compare with."),
    )
    created_at = ClockDateTimeField(_("created"), auto_now_add=True)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # reentry_days is ignored by the other re-entry modes (kept, so switching back
        # and forth does not lose it).
        if self.reentry == self.Reentry.ONCE_PER_PERIOD and not self.reentry_days:
            raise ValidationError(
                {"reentry_days": _("Set the number of days (1 or more) for this re-entry.")}
            )
        if self.filter_condition:
            validate_trigger_filter(self)

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE


# Condition fields -> the flow's filter fields, to report errors where staff type.
_FIELDS = {
    "condition": "filter_condition",
    "field": "filter_field",
    "operator": "filter_operator",
    "value": "filter_value",
    "amount": "filter_value",
}


#: The filter that compares a field of the trigger event's data (not a condition check).
EVENT_DATA = "event_data"


def as_condition(flow: Flow) -> ConditionStep:
    """An unsaved condition step carrying the flow's filter, for the shared checks."""
    amount = None
    if flow.filter_condition in ConditionStep.AMOUNT_CHECKS:
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
    if flow.filter_condition in ConditionStep.AMOUNT_CHECKS and flow.filter_value.strip():
        if as_condition(flow).amount is None:
            raise ValidationError({"filter_value": _("Enter the amount as a number.")})
    try:
        as_condition(flow).clean()
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for key, messages in exc.message_dict.items():
            if key in _FIELDS:  # branch settings belong to steps, not to filters
                errors.setdefault(_FIELDS[key], []).extend(messages)
        if errors:
            raise ValidationError(errors) from exc
