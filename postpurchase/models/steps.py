"""Steps of a flow. Each kind is a polymorphic subclass of :class:`Step`.

To add a kind, subclass ``Step`` and implement ``execute(ctx)`` returning a
:class:`postpurchase.results.StepResult`; the engine needs no change. The built-in kinds
keep their behaviour in :mod:`postpurchase.steps` (one module per kind), which registers
it here with :func:`register_behaviour` when the app loads: so this model module imports
no service code, and the services may import the models. A step whose work
batches well (one query for many enrollments) may also override ``execute_batch``.
``execute`` may run again for the same enrollment (a delay checked twice, a retry after
a crash), so make it idempotent: record what it did before acting, as EmailStep does
with its Message row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from polymorphic.models import PolymorphicModel

from postpurchase.models.events import Event
from postpurchase.results import Exit, Fail, Next, StepResult, Wait
from postpurchase.windows import ALL_WEEKDAYS, next_allowed, zone

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext
    from postpurchase.models.enrollments import Enrollment
    from postpurchase.models.events import Event

logger = logging.getLogger("postpurchase.engine")


@dataclass(frozen=True)
class Behaviour:
    """What a step kind does, when the model class does not say it itself."""

    execute: Callable[[Any, StepContext], StepResult] | None = None
    execute_batch: Callable[[Any, list[StepContext]], list[StepResult]] | None = None
    clean: Callable[[Any], None] | None = None


_BEHAVIOURS: dict[type, Behaviour] = {}


def register_behaviour(
    model: type[Step],
    *,
    execute: Callable[[Any, StepContext], StepResult] | None = None,
    execute_batch: Callable[[Any, list[StepContext]], list[StepResult]] | None = None,
    clean: Callable[[Any], None] | None = None,
) -> None:
    """Give ``model`` (and its subclasses) a behaviour: ``execute(step, ctx)``,
    ``execute_batch(step, contexts)`` and ``clean(step)``. A subclass that defines the
    method itself keeps its own."""
    _BEHAVIOURS[model] = Behaviour(execute, execute_batch, clean)


def behaviour_owner(model: type[Step]) -> type[Step] | None:
    """The class in ``model``'s ancestry whose behaviour it has (None: no behaviour)."""
    for klass in model.__mro__:
        if klass in _BEHAVIOURS:
            return klass
    return None


def behaviour_of(model: type[Step]) -> Behaviour:
    owner = behaviour_owner(model)
    return _BEHAVIOURS[owner] if owner is not None else Behaviour()


class Step(PolymorphicModel):
    flow = models.ForeignKey(
        "postpurchase.Flow", on_delete=models.CASCADE, related_name="steps", verbose_name=_("flow")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["flow", "position", "id"]
        indexes = [models.Index(fields=["flow", "position"], name="pp_step_flow_pos")]

    def __str__(self) -> str:
        return self.name or f"{self._meta.verbose_name} #{self.position}"

    def clean(self) -> None:
        super().clean()
        check = behaviour_of(type(self)).clean
        if check is not None:
            check(self)

    def execute(self, ctx: StepContext) -> StepResult:
        run = behaviour_of(type(self)).execute
        if run is None:
            raise NotImplementedError(f"{type(self).__name__} must implement execute(ctx)")
        return run(self, ctx)

    def execute_batch(self, contexts: list[StepContext]) -> list[StepResult]:
        """Run this step for several enrollments standing on it; one result each, in
        order. The default calls ``execute`` for each; an exception there halts only
        that enrollment (``Fail``), so staff can fix the step and retry it."""
        run = behaviour_of(type(self)).execute_batch
        if run is not None:
            return run(self, contexts)
        results: list[StepResult] = []
        for ctx in contexts:
            try:
                results.append(self.execute(ctx))
            except Exception as exc:
                logger.exception(
                    "postpurchase: step %r crashed for enrollment %s", self, ctx.enrollment.pk
                )
                results.append(Fail(f"{type(exc).__name__}: {exc}"))
        return results


def validate_weekdays(value: str) -> None:
    """Digits 0-6 (Monday = 0), each at most once, at least one."""
    if not value or any(c not in ALL_WEEKDAYS for c in value) or len(set(value)) != len(value):
        raise ValidationError(
            _('Weekdays must be digits 0-6 (Monday = 0), each once, e.g. "01234" for Mon-Fri.'),
            code="invalid_weekdays",
        )


def step_links(step: Step) -> list[models.ForeignKey]:
    """The fields of a step that point at other steps (jump targets)."""
    return [
        field
        for field in type(step)._meta.get_fields()
        if field.many_to_one and field.concrete and issubclass(field.related_model, Step)
    ]


class DelayStep(Step):
    """Wait a while, counted from the trigger event, from reaching this step, or from
    another event (e.g. 5 days after ``order_delivered``); optionally end the wait only
    inside a send window (local hours and weekdays of the contact)."""

    class RelativeTo(models.TextChoices):
        TRIGGER = "trigger", _("the trigger event")
        PREVIOUS = "previous", _("the previous step")
        EVENT = "event", _("another event (below)")

    class OnTimeout(models.TextChoices):
        CONTINUE = "continue", _("continue with the next step")
        EXIT = "exit", _("exit the flow")

    #: While waiting for an event, look again at least this often, in case the wake-up
    #: that ``record_event`` gives was lost (e.g. it raced with a running worker).
    EVENT_POLL = timedelta(hours=1)

    days = models.PositiveIntegerField(_("days"), default=0)
    hours = models.PositiveIntegerField(_("hours"), default=0)
    minutes = models.PositiveIntegerField(_("minutes"), default=0)
    relative_to = models.CharField(
        _("counted from"), max_length=10, choices=RelativeTo.choices, default=RelativeTo.PREVIOUS
    )
    event_name = models.CharField(
        _("event"),
        max_length=100,
        blank=True,
        help_text=_(
            'With "counted from another event": the event to wait for, e.g. '
            "order_delivered. It must be the same contact's, about the same order if both "
            "have one, and happen after the enrollment started."
        ),
    )
    max_wait_days = models.PositiveIntegerField(_("wait for the event at most (days)"), default=30)
    max_wait_hours = models.PositiveIntegerField(
        _("... and hours (0-23)"), default=0, validators=[MaxValueValidator(23)]
    )
    on_timeout = models.CharField(
        _("if the event does not come"),
        max_length=10,
        choices=OnTimeout.choices,
        default=OnTimeout.EXIT,
    )
    window_start_hour = models.PositiveSmallIntegerField(
        _("send window from (hour)"),
        default=0,
        validators=[MaxValueValidator(23)],
        help_text=_("Local time of the contact, 0-23."),
    )
    window_end_hour = models.PositiveSmallIntegerField(
        _("send window until (hour)"),
        default=24,
        validators=[MaxValueValidator(24)],
        help_text=_("Local time of the contact, 1-24 (exclusive). 0-24: any hour."),
    )
    weekdays = models.CharField(
        _("send on weekdays"),
        max_length=7,
        default=ALL_WEEKDAYS,
        validators=[validate_weekdays],
        help_text=_('Digits, Monday = 0 ... Sunday = 6: "0123456" every day, "01234" Mon-Fri.'),
    )
    wait_for_readiness = models.BooleanField(
        _("also wait until the products can be judged"),
        default=False,
        help_text=_(
            'Go on no earlier than the latest "ready_after" date of the order\'s items '
            "(set by the shop's adapter, e.g. winter boots in winter), from the start of "
            "that day in the contact's time zone. Items without one do not hold it back."
        ),
    )

    class Meta:
        verbose_name = _("delay")
        verbose_name_plural = _("delays")

    @property
    def duration(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    @property
    def max_wait(self) -> timedelta:
        return timedelta(days=self.max_wait_days, hours=self.max_wait_hours)

    @property
    def has_window(self) -> bool:
        return (
            (self.window_start_hour or 0) > 0
            or (24 if self.window_end_hour is None else self.window_end_hour) < 24
            or set(self.weekdays or ALL_WEEKDAYS) != set(ALL_WEEKDAYS)
        )

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        waits_for_event = self.relative_to == self.RelativeTo.EVENT
        if waits_for_event:
            if not self.event_name.strip():
                errors.setdefault("event_name", []).append(
                    _("Name the event to wait for, e.g. order_delivered.")
                )
            if self.max_wait <= timedelta(0):
                errors.setdefault("max_wait_days", []).append(
                    _("Set how long to wait for the event (at least one hour).")
                )
        elif self.event_name.strip():
            errors.setdefault("event_name", []).append(
                _('An event is used only when the delay is counted from "another event".')
            )
        start, end = self.window_start_hour, self.window_end_hour
        if start is not None and end is not None and start >= end:
            errors.setdefault("window_end_hour", []).append(
                _("The send window must end after it starts (e.g. from 9 until 18).")
            )
        # A zero delay makes sense only as "at the event" or "at the next allowed moment".
        if self.duration <= timedelta(0) and not waits_for_event and not self.has_window:
            errors.setdefault("days", []).append(
                _("A delay must last at least one minute (or set a send window).")
            )
        if errors:
            raise ValidationError(errors)
        self.event_name = self.event_name.strip()
        self.weekdays = "".join(sorted(self.weekdays))

    def execute(self, ctx: StepContext) -> StepResult:
        if self.relative_to == self.RelativeTo.EVENT:
            return self._after_event(ctx)
        if self.relative_to == self.RelativeTo.TRIGGER:
            anchor = ctx.enrollment.triggered_at
        else:
            anchor = ctx.enrollment.step_entered_at
        return self._until(ctx, anchor + self.duration)

    def _until(self, ctx: StepContext, until: datetime) -> StepResult:
        """Go on at ``until`` (or when the items are ready, if later and asked for),
        moved into the send window if there is one."""
        if self.wait_for_readiness:
            ready = self.ready_at(ctx)
            if ready is not None and ready > until:
                until = ready
        if self.has_window:
            until = next_allowed(
                until,
                self._zone(ctx),
                self.window_start_hour,
                self.window_end_hour,
                self.weekdays,
            )
        return Next() if ctx.now >= until else Wait(until)

    def ready_at(self, ctx: StepContext) -> datetime | None:
        """The start of the latest ``ready_after`` day of the order's items, in the
        contact's time zone; None if no item has a valid one."""
        day = latest_ready_after(ctx.enrollment.snapshot)
        if day is None:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=self._zone(ctx))

    def _zone(self, ctx: StepContext):
        key = ("tz", ctx.contact.timezone)
        if key not in ctx.batch.cache:
            ctx.batch.cache[key] = zone(ctx.contact.timezone)
        return ctx.batch.cache[key]

    def _after_event(self, ctx: StepContext) -> StepResult:
        enrollment = ctx.enrollment
        # The wait for the event begins when the enrollment reaches this step; an event
        # that came earlier (since the trigger) counts at once.
        deadline = enrollment.step_entered_at + self.max_wait
        event = self.find_event(enrollment, before=deadline)
        if event is not None:
            return self._until(ctx, event.occurred_at + self.duration)
        if ctx.now < deadline:
            # record_event wakes waiting enrollments when the event arrives; the poll is
            # only the fallback, so no enrollment spins.
            return Wait(min(deadline, ctx.now + self.EVENT_POLL))
        if self.on_timeout == self.OnTimeout.CONTINUE:
            return self._until(ctx, deadline)
        return Exit(f"no {self.event_name} within {_describe(self.max_wait)}")

    def find_event(self, enrollment: Enrollment, before: datetime) -> Event | None:
        """The first ``event_name`` event of the enrollment's contact after the trigger
        (not the trigger itself) and not after ``before``, about the same order if both
        have an order reference."""
        events = Event.objects.filter(
            contact_id=enrollment.contact_id,
            name=self.event_name,
            occurred_at__gte=enrollment.triggered_at,
            occurred_at__lte=before,
        )
        if enrollment.trigger_event_id is not None:
            events = events.exclude(pk=enrollment.trigger_event_id)
        if enrollment.order_ref:
            events = events.filter(Q(order_ref="") | Q(order_ref=enrollment.order_ref))
        return events.only("pk", "occurred_at").order_by("occurred_at", "pk").first()


def latest_ready_after(snapshot: dict) -> date | None:
    """The latest ``ready_after`` (ISO date, or the date part of an ISO datetime) of a
    snapshot's items; malformed values are ignored."""
    latest = None
    items = snapshot.get("items") if isinstance(snapshot, dict) else None
    for item in items if isinstance(items, list) else []:
        value = item.get("ready_after") if isinstance(item, dict) else None
        if not value:
            continue
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            logger.warning("Ignoring a malformed ready_after %r", value)
            continue
        if latest is None or day > latest:
            latest = day
    return latest


def _describe(span: timedelta) -> str:
    days, hours = span.days, span.seconds // 3600
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    if hours or not parts:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return " ".join(parts)


class MarketingTopic(models.TextChoices):
    """The marketing sub-categories a customer can opt out of one by one."""

    OFFERS = "offers", _("Offers and discounts")
    REVIEWS = "reviews", _("Reviews and surveys")
    TIPS = "tips", _("Product tips")


class EmailStep(Step):
    """Send one email (an :class:`EmailTemplate`, in the contact's language)."""

    class Category(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Transactional (order confirmation, status)")
        MARKETING = "marketing", _("Marketing (everything else; honours unsubscribe)")

    template = models.ForeignKey(
        "postpurchase.EmailTemplate",
        on_delete=models.PROTECT,
        related_name="steps",
        verbose_name=_("email template"),
    )
    category = models.CharField(
        _("category"), max_length=15, choices=Category.choices, default=Category.MARKETING
    )
    # Which marketing sub-category the email belongs to: a customer who turns that
    # category off in the preference centre is not sent it. Ignored for transactional.
    topic = models.CharField(
        _("marketing topic"),
        max_length=10,
        choices=MarketingTopic.choices,
        default=MarketingTopic.OFFERS,
        blank=True,
        help_text=_(
            "The kind of marketing email this is. Customers can turn each kind off on "
            "their preferences page. Empty: marketing in general."
        ),
    )
    coupon_policy = models.ForeignKey(
        "postpurchase.CouponPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="email_steps",
        verbose_name=_("coupon policy"),
        help_text=_(
            "Issue a fresh code of this policy to the contact with each email; the "
            "template shows it as {{ coupon.code }} (or include the coupon partial)."
        ),
    )
    skip_if_deferred_days = models.PositiveIntegerField(
        _("skip if deferred more than (days)"),
        null=True,
        blank=True,
        help_text=_(
            "A marketing email held back by the frequency cap, the customer's chosen "
            "frequency or quiet hours is sent later. Set a number of days to skip it "
            "instead when it would go out more than that late (a flash sale that has "
            "ended). Empty: always send it, however late."
        ),
    )
    optimise_send_time = models.BooleanField(
        _("send at the customer's usual reading hour"),
        default=False,
        help_text=_(
            "Marketing only, when send-time optimisation is on in the settings: hold the "
            "email for up to a day until the hour at which this customer usually opens "
            "or clicks emails (else the shop's best hour)."
        ),
    )

    class Escalation(models.TextChoices):
        ALWAYS = "always", _("always issue a code")
        IF_UNUSED = "if_unused", _("only if the flow's earlier code went unused")

    coupon_escalation = models.CharField(
        _("issue the coupon"),
        max_length=10,
        choices=Escalation.choices,
        default=Escalation.ALWAYS,
        help_text=_(
            "An escalating offer: give this step a bigger policy than the earlier email's "
            "(10 percent off, then 15, then free shipping) and issue it only if the "
            "customer did not use the earlier code."
        ),
    )
    withdraw_previous = models.BooleanField(
        _("withdraw the earlier code"),
        default=False,
        help_text=_(
            "When this email's code is issued, the unused codes that earlier emails of "
            "the same enrollment carried stop working, so only one offer is valid."
        ),
    )

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("emails")

    def clean(self) -> None:
        super().clean()
        if self.category != self.Category.TRANSACTIONAL:
            return
        # Order emails are never held back, so these would silently do nothing.
        errors = {}
        if self.skip_if_deferred_days is not None:
            errors["skip_if_deferred_days"] = _(
                "Transactional emails are never deferred: leave this empty."
            )
        if self.optimise_send_time:
            errors["optimise_send_time"] = _(
                "Transactional emails go at once: send-time optimisation is for marketing."
            )
        if errors:
            raise ValidationError(errors)

    def execute(self, ctx: StepContext) -> StepResult:
        return self.execute_batch([ctx])[0]


class ConditionStep(Step):
    """Check one thing about the enrollment, then continue, jump to a step, or exit,
    depending on the answer. The check's parameters are typed fields; ``clean()``
    validates the ones the chosen check uses."""

    class Check(models.TextChoices):
        ORDERED_AGAIN = "ordered_again", _("the customer ordered again since enrolling")
        OPENED = "opened", _("an earlier email of this flow was opened")
        CLICKED = "clicked", _("an earlier email of this flow was clicked")
        ORDER_TOTAL = "order_total", _("the order total compares to an amount")
        ORDER_CONTAINS = "order_contains", _("the order contains a category or SKU")
        ITEM_FIELD_PRESENT = "item_field_present", _("an item of the order has a field")
        CONTACT_ATTRIBUTE = "contact_attribute", _("a contact attribute compares to a value")
        RANDOM_PERCENT = "random_percent", _("random: true for a percentage (A/B split)")
        # Customer checks (segments), from the app's own order events.
        ORDERS_COUNT = "orders_count", _("the customer's number of orders compares to a number")
        TOTAL_SPENT = "total_spent", _("the customer's total spent in a currency compares to")
        AVERAGE_ORDER = "average_order", _("the customer's average order in a currency compares to")
        BOUGHT = "bought", _("the customer ever bought a category or SKU")
        DAYS_SINCE_ORDER = "days_since_order", _("days since the customer's last order compare to")
        BIRTHDAY_MONTH = "birthday_month", _("the customer's birthday month is")
        LANGUAGE = "language", _("the customer's language is")

    class Action(models.TextChoices):
        CONTINUE = "continue", _("continue with the next step")
        JUMP = "jump", _("jump to a step")
        EXIT = "exit", _("exit the flow")

    class Operator(models.TextChoices):
        EQ = "==", _("equals")
        NE = "!=", _("does not equal")
        GT = ">", _("greater than")
        GE = ">=", _("at least")
        LT = "<", _("less than")
        LE = "<=", _("at most")
        CONTAINS = "contains", _("contains")
        IS_SET = "is_set", _("is set")

    #: Operators that compare numbers (the order total accepts only these).
    NUMERIC_OPERATORS = ("==", "!=", ">", ">=", "<", "<=")
    #: Checks about the customer rather than the enrollment: a trigger filter may use them.
    CUSTOMER_CHECKS = (
        "orders_count",
        "total_spent",
        "average_order",
        "bought",
        "days_since_order",
        "birthday_month",
        "language",
    )
    #: Checks that compare a number typed in ``amount`` (a filter's value).
    AMOUNT_CHECKS = (
        "order_total",
        "orders_count",
        "total_spent",
        "average_order",
        "days_since_order",
    )

    condition = models.CharField(_("condition"), max_length=20, choices=Check.choices)
    field = models.CharField(
        _("field"),
        max_length=100,
        blank=True,
        help_text=_(
            '"order contains", "ever bought": category or sku. "item field present": the '
            'item key, e.g. tips. "contact attribute": the attribute name (age_band, '
            'gender, city, country, ...). "total spent", "average order": the currency, '
            "e.g. EUR."
        ),
    )
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices, blank=True)
    value = models.CharField(
        _("value"),
        max_length=200,
        blank=True,
        help_text=_("The category, SKU or attribute value to compare with."),
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "For the order total (in the order's currency), the number of orders, the "
            "total spent, the average order, or the days since the last order."
        ),
    )
    percent = models.PositiveSmallIntegerField(
        _("percent"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "For the random split: the share of enrollments (0-100) that take "
            '"then". The same enrollment always gets the same answer.'
        ),
    )
    then_action = models.CharField(
        _("if true"), max_length=10, choices=Action.choices, default=Action.CONTINUE
    )
    then_step = models.ForeignKey(
        Step,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("if true, jump to"),
    )
    then_reason = models.CharField(_("if true, exit reason"), max_length=200, blank=True)
    else_action = models.CharField(
        _("if false"), max_length=10, choices=Action.choices, default=Action.CONTINUE
    )
    else_step = models.ForeignKey(
        Step,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("if false, jump to"),
    )
    else_reason = models.CharField(_("if false, exit reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")


class NotifyStaffStep(Step):
    """Email the shop's team (e.g. customer service) about this order: a plain-text
    email whose subject and body are Django templates. Sent at most once per
    enrollment; a send error is retried with the delivery backoff."""

    recipients = models.CharField(
        _("recipients"),
        max_length=1000,
        blank=True,
        help_text=_('Comma-separated addresses. Empty: POSTPURCHASE["STAFF_EMAILS"].'),
    )
    subject = models.CharField(
        _("subject"),
        max_length=300,
        help_text=_("A Django template, e.g. Order {{ order.number }} needs a look."),
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "Plain text, a Django template. It sees order, contact, enrollment, flow, "
            "event, admin_url and site_url."
        ),
    )

    class Meta:
        verbose_name = _("notify staff")
        verbose_name_plural = _("notify staff")


class SignalStep(Step):
    """Send the ``postpurchase.signals.step_action`` signal with a named action, for
    shop code (e.g. award bonus points). Fired at most once per enrollment."""

    action = models.SlugField(
        _("action"),
        max_length=100,
        help_text=_(
            "The name your receiver acts on, e.g. award-bonus-points. Receivers of "
            "postpurchase.signals.step_action get it as action."
        ),
    )

    class Meta:
        verbose_name = _("signal")
        verbose_name_plural = _("signals")
