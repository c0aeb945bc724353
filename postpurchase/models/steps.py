"""Steps of a flow. Each kind is a polymorphic subclass of :class:`Step`.

To add a kind, subclass ``Step`` and implement ``execute(ctx)`` returning a
:class:`postpurchase.results.StepResult`; the engine needs no change. A step whose work
batches well (one query for many enrollments) may also override ``execute_batch``.
``execute`` may run again for the same enrollment (a delay checked twice, a retry after
a crash), so make it idempotent: record what it did before acting, as EmailStep does
with its Message row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from polymorphic.models import PolymorphicModel

from ..results import Fail, Next, StepResult, Wait

if TYPE_CHECKING:
    from ..engine.context import StepContext

logger = logging.getLogger("postpurchase.engine")


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

    def execute(self, ctx: StepContext) -> StepResult:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(ctx)")

    def execute_batch(self, contexts: list[StepContext]) -> list[StepResult]:
        """Run this step for several enrollments standing on it; one result each, in
        order. The default calls ``execute`` for each; an exception there halts only
        that enrollment (``Fail``), so staff can fix the step and retry it."""
        results: list[StepResult] = []
        for ctx in contexts:
            try:
                results.append(self.execute(ctx))
            except Exception as exc:
                logger.exception("postpurchase: step %r crashed for %s", self, ctx.enrollment)
                results.append(Fail(f"{type(exc).__name__}: {exc}"))
        return results


class DelayStep(Step):
    """Wait a while, counted from the trigger event or from reaching this step."""

    class RelativeTo(models.TextChoices):
        TRIGGER = "trigger", _("the trigger event")
        PREVIOUS = "previous", _("the previous step")

    days = models.PositiveIntegerField(_("days"), default=0)
    hours = models.PositiveIntegerField(_("hours"), default=0)
    minutes = models.PositiveIntegerField(_("minutes"), default=0)
    relative_to = models.CharField(
        _("counted from"), max_length=10, choices=RelativeTo.choices, default=RelativeTo.PREVIOUS
    )

    class Meta:
        verbose_name = _("delay")
        verbose_name_plural = _("delays")

    @property
    def duration(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    def clean(self) -> None:
        if self.duration <= timedelta(0):
            raise ValidationError(_("A delay must last at least one minute."))

    def execute(self, ctx: StepContext) -> StepResult:
        if self.relative_to == self.RelativeTo.TRIGGER:
            anchor = ctx.enrollment.triggered_at
        else:
            anchor = ctx.enrollment.step_entered_at
        until = anchor + self.duration
        return Next() if ctx.now >= until else Wait(until)


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

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("emails")

    def execute(self, ctx: StepContext) -> StepResult:
        return self.execute_batch([ctx])[0]

    def execute_batch(self, contexts: list[StepContext]) -> list[StepResult]:
        from ..delivery import send_step_emails

        return send_step_emails(self, contexts)
