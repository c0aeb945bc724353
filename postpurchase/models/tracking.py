"""What the ESP told us about an email after it left: delivery, bounces, opens, clicks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class MessageEvent(models.Model):
    """One ESP webhook event (through Anymail's tracking signal), kept once per
    (ESP, event id): a replayed webhook finds the row and changes nothing.

    ``message`` is NULL when the event names no email of ours (sent by another system
    through the same ESP account, or its Message was deleted): such events are kept and
    counted, not dropped. ``recipient`` is stored for staff (which address bounced);
    logs carry the event's id only."""

    class Kind(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        DEFERRED = "deferred", _("Deferred")
        BOUNCED = "bounced", _("Bounced")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed at the ESP")
        COMPLAINED = "complained", _("Spam complaint")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNKNOWN = "unknown", _("Other")

    esp = models.CharField(_("ESP"), max_length=50)
    # The ESP's own event id, or (for ESPs that give none: Brevo, most Postmark events)
    # a digest of the raw event, so a replay still has the same id.
    event_id = models.CharField(_("ESP event id"), max_length=255)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = ClockDateTimeField(_("received at"), auto_now_add=True)
    # CASCADE: deleting a contact (an erasure request) deletes its messages and with
    # them what the ESP reported about them (address, IP, user agent).
    message = models.ForeignKey(
        "postpurchase.Message",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("message"),
    )
    esp_message_id = models.CharField(_("ESP message id"), max_length=255, blank=True)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    url = models.TextField(_("clicked URL"), blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    reject_reason = models.CharField(_("reject reason"), max_length=20, blank=True)
    description = models.TextField(_("description"), blank=True)
    mta_response = models.TextField(_("MTA response"), blank=True)
    # Opens and clicks only: made by a machine (mail privacy proxy prefetch, security
    # scanner) rather than a person, and why. Reports, conditions and attribution count
    # human events; the machine ones stay visible.
    machine = models.BooleanField(_("by a machine"), default=False)
    machine_reason = models.CharField(_("machine reason"), max_length=40, blank=True)
    # The ESP's event as it came, when small (see tracking.record.RAW_MAX_CHARS).
    raw = models.JSONField(_("raw event"), default=dict, blank=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id"], name="pp_message_event_once")
        ]
        indexes = [models.Index(fields=["kind", "occurred_at"], name="pp_msgevent_kind_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.esp})"
