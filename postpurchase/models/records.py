from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class Guard(models.Model):
    """What :class:`~postpurchase.models.Message` and :class:`StepRecord` share: the row
    that guards one side effect (an email, a staff alert, a signal) of one visit of a
    step for one enrollment, written and committed before acting. The primary key is a
    UUID so it can serve as the idempotency key towards other systems (an integer id
    would repeat between a shop's staging and production databases)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Which time the enrollment reached the step (1 = the first): each visit of a step
    # in a loop is its own side effect, with its own id and so its own idempotency key.
    visit = models.PositiveIntegerField(_("visit"), default=1)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        abstract = True


class StepRecord(Guard):
    """What a step with a side effect did for one enrollment: the guard against doing it
    twice, like ``Message`` for emails. Written (and committed) before the side effect,
    unique per (enrollment, step, visit), so a re-run after a crash or a second worker
    finds it, while a flow that loops back to the step acts again on its next visit.

    Its id is the staff email's ``Idempotency-Key`` header.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Waiting to retry")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    enrollment = models.ForeignKey(
        "postpurchase.Enrollment",
        on_delete=models.CASCADE,
        related_name="step_records",
        verbose_name=_("enrollment"),
    )
    step = models.ForeignKey(
        "postpurchase.Step",
        null=True,
        on_delete=models.SET_NULL,
        related_name="records",
        verbose_name=_("step"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("step record")
        verbose_name_plural = _("step records")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step", "visit"], name="pp_step_record_once_per_visit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step_id} for {self.enrollment_id}: {self.status}"
