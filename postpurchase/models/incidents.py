"""What the health monitor found wrong (postpurchase.monitoring): one row per incident,
open until the monitor sees the figures healthy again."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Incident(models.Model):
    """One divergence of one kind, from when the monitor first saw it until it saw it
    gone. At most one incident of a kind is open at a time (a partial unique
    constraint), so a rule that keeps firing updates its incident instead of opening
    (and mailing) a new one."""

    class Kind(models.TextChoices):
        ORDERS_WITHOUT_ENROLLMENTS = "no_enrollments", _("Orders but no enrollments")
        ENROLLMENTS_WITHOUT_SENDS = "no_sends", _("Enrollments but no emails")
        FAILURE_RATE = "failure_rate", _("Send failure rate too high")
        BOUNCE_RATE = "bounce_rate", _("Bounce rate too high")
        BACKLOG = "backlog", _("Scheduler stalled: due enrollments not advanced")
        COMPLAINT_RATE = "complaint_rate", _("Spam complaint rate too high")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    opened_at = models.DateTimeField(_("opened at"))
    # The last check that still found it (details are that check's figures).
    last_seen_at = models.DateTimeField(_("last seen at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # When staff were mailed about it; NULL until a mail went out (a failed mail is
    # tried again at the next check), never a second time for the same incident.
    notified_at = models.DateTimeField(_("staff notified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(resolved_at__isnull=True),
                name="pp_incident_one_open_per_kind",
            )
        ]
        indexes = [models.Index(fields=["resolved_at"], name="pp_incident_resolved")]

    def __str__(self) -> str:
        return str(self.get_kind_display())

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
