from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class Event(models.Model):
    """Something that happened to a contact: an inbound signal or a ``track()`` call."""

    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("contact"),
    )
    name = models.CharField(_("name"), max_length=100, db_index=True)
    ref = models.CharField(
        _("object reference"),
        max_length=200,
        blank=True,
        db_index=True,
        help_text=_('What the event is about, e.g. "shop.order:42".'),
    )
    order_ref = models.CharField(_("order reference"), max_length=200, blank=True, db_index=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    # The order as the adapter saw it (copied to enrollments); kept apart from ``data``
    # so loading an event for a template does not decode the whole order again.
    snapshot = models.JSONField(_("order snapshot"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    # Set on events the app fires itself from time passing (date triggers): one event
    # per occurrence ("winback:90:<contact>:<last order>"), however often the scan runs.
    dedupe_key = models.CharField(
        _("occurrence key"), max_length=200, null=True, blank=True, unique=True
    )
    created_at = ClockDateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        permissions = [("export_event", _("Can export events as CSV"))]
        ordering = ["-occurred_at", "-id"]
        # The date-trigger scan reads order events by time (winback, N days after).
        indexes = [models.Index(fields=["name", "occurred_at"], name="pp_event_name_time")]

    def __str__(self) -> str:
        return f"{self.name} {self.ref}".strip()
