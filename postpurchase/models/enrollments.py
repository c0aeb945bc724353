from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class Enrollment(models.Model):
    """One contact walking through one flow, started by one trigger event."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")
        FAILED = "failed", _("Failed")

    # Every write of an enrollment (each step it takes) updates each of its indexes, so
    # it has none that another index already covers: the flow's lookups use the
    # (flow, dedupe_key) constraint, the contact's the (contact, status) index.
    flow = models.ForeignKey(
        "postpurchase.Flow",
        on_delete=models.CASCADE,
        related_name="enrollments",
        verbose_name=_("flow"),
        db_index=False,
    )
    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="enrollments",
        verbose_name=_("contact"),
        db_index=False,
    )
    trigger_event = models.ForeignKey(
        "postpurchase.Event",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrollments",
        verbose_name=_("trigger event"),
    )
    # Re-entry guard: unique per flow (e.g. "order:shop.order:42" or "contact:7").
    dedupe_key = models.CharField(_("dedupe key"), max_length=255)
    # Not indexed: nothing looks enrollments up by order alone (exits go by contact).
    order_ref = models.CharField(_("order reference"), max_length=200, blank=True)
    snapshot = models.JSONField(_("order snapshot"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    # The step to run next (None once the flow is done).
    step = models.ForeignKey(
        "postpurchase.Step",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("current step"),
    )
    step_entered_at = models.DateTimeField(_("reached current step at"))
    # How many times the enrollment has reached each step, {"<step id>": n}: a flow may
    # loop back to a step, and each visit is its own Message / StepRecord. Saved with
    # the current step, so a re-run after a crash reaches the same visit again. A step
    # missing here (the first one, rows older than this field) is on its first visit.
    visits = models.JSONField(_("visits per step"), default=dict, blank=True, editable=False)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts at current step"), default=0)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    triggered_at = models.DateTimeField(_("triggered at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=200, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = ClockDateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        permissions = [("export_enrollment", _("Can export enrollments as CSV"))]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "dedupe_key"], name="pp_enrollment_dedupe")
        ]
        indexes = [
            # The scheduler's hot query: active enrollments by due time.
            models.Index(fields=["status", "due_at"], name="pp_enrollment_due"),
            models.Index(fields=["contact", "status"], name="pp_enrollment_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.flow}"

    def visit_of(self, step_id: int | None) -> int:
        """Which visit of ``step_id`` the enrollment is on (or made last): 1, 2, ..."""
        return int(self.visits.get(str(step_id), 1)) if self.visits else 1

    def move_to(self, step, now) -> None:
        """Stand on ``step`` (None: past the last one) from ``now``, counting the visit:
        each visit of a step is its own Message / StepRecord. The step being left keeps
        its count (1 if it was never counted: the first step). Not saved."""
        if self.step_id is not None:
            self.visits.setdefault(str(self.step_id), 1)
        if step is not None:
            key = str(step.pk)
            self.visits[key] = self.visits.get(key, 0) + 1
        self.step = step
        self.step_entered_at = now
        self.attempts = 0
        self.last_error = ""
