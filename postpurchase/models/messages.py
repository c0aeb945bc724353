from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.records import Guard


class Message(Guard):
    """One email of one step to one enrollment, for one visit of that step (a flow that
    loops, "remind every week until they order", reaches its email step again): the
    guard against double sends.

    Its id is the ESP idempotency key (see :class:`~postpurchase.models.records.Guard`).
    """

    class Status(models.TextChoices):
        # Created, not yet handed to the ESP.
        QUEUED = "queued", _("Queued")
        # Handed to the ESP and not yet answered. Found so after a crash, the outcome is
        # unknown: the email may or may not have left (see UNKNOWN_OUTCOME).
        SENDING = "sending", _("Sending")
        RETRYING = "retrying", _("Waiting to retry")
        SENT = "sent", _("Sent")
        # Given up (attempts used up, refused, configuration error): staff can resend.
        FAILED = "failed", _("Failed")
        # Its worker died while the ESP had it, and UNKNOWN_OUTCOME is "hold": it may
        # have been delivered; staff decide whether to resend it.
        UNKNOWN = "unknown", _("Outcome unknown")
        SUPPRESSED = "suppressed", _("Suppressed")
        # A marketing email over the frequency cap, in quiet hours or waiting for the
        # contact's usual reading hour: its enrollment is due again at deferred_until.
        DEFERRED = "deferred", _("Deferred")
        # Deferred further than its step allows (EmailStep.skip_if_deferred_days): not
        # sent; the flow goes on.
        SKIPPED = "skipped", _("Skipped")

    class DeferralReason(models.TextChoices):
        CAP = "cap", _("frequency cap")
        FREQUENCY = "frequency", _("the contact's chosen frequency")
        QUIET_HOURS = "quiet_hours", _("quiet hours")
        SEND_TIME = "send_time", _("the contact's usual reading hour")

    enrollment = models.ForeignKey(
        "postpurchase.Enrollment",
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("enrollment"),
    )
    step = models.ForeignKey(
        "postpurchase.Step",
        null=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        verbose_name=_("step"),
    )
    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("contact"),
    )
    to_email = models.EmailField(_("to"), max_length=254)
    language = models.CharField(_("language"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    category = models.CharField(_("category"), max_length=15)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    esp_name = models.CharField(_("ESP"), max_length=50, blank=True)
    esp_message_id = models.CharField(
        _("ESP message id"), max_length=255, blank=True, db_index=True
    )
    # When the latest attempt was handed to the ESP (set for a group of messages in one
    # statement, committed before any of them is sent).
    attempted_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    # An earlier attempt may have reached the ESP without us hearing the answer (the
    # worker died, the connection broke after the request was sent): sending it again
    # may deliver it twice.
    unconfirmed = models.BooleanField(_("earlier attempt unconfirmed"), default=False)
    # Set when such a message was sent again: the customer may have it twice.
    possible_duplicate_at = models.DateTimeField(
        _("possible duplicate since"), null=True, blank=True, db_index=True
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Pacing (postpurchase.pacing): when the email was first meant to go, and the latest
    # deferral (until when, why, how many so far). Kept once it is sent, so staff see
    # how late it went and why.
    wanted_at = models.DateTimeField(_("first due at"), null=True, blank=True)
    deferred_until = models.DateTimeField(_("deferred until"), null=True, blank=True)
    deferral_reason = models.CharField(
        _("deferred because of"), max_length=12, choices=DeferralReason.choices, blank=True
    )
    deferrals = models.PositiveIntegerField(_("deferrals"), default=0)
    # First human open and first human click (tracking.record fills them from the ESP's
    # events and first-party tracking). ConditionStep's opened/clicked checks read them.
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    # What tracking saw, rolled up on the message so reports survive the purge of
    # MessageEvents (retention) and read one row per email, not one per event.
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    complained_at = models.DateTimeField(_("spam complaint at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    opens = models.PositiveIntegerField(_("human opens"), default=0)
    machine_opens = models.PositiveIntegerField(_("machine opens"), default=0)
    clicks = models.PositiveIntegerField(_("human clicks"), default=0)
    machine_clicks = models.PositiveIntegerField(_("machine clicks"), default=0)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        permissions = [("export_message", _("Can export messages as CSV"))]
        ordering = ["-created_at"]
        indexes = [
            # The analytics page: the emails of a flow's steps sent in a date range, read
            # without joining the enrollments (postpurchase.analytics.reports). On
            # PostgreSQL migration 0021 makes it carry the roll-ups (INCLUDE) so the page
            # reads the index alone; declared here without them, since other databases
            # would warn (models.W040) that they cannot ...
            models.Index(fields=["step", "sent_at"], name="pp_message_step_sent"),
            # ... and those whose step was deleted since (found through the enrollment).
            models.Index(
                fields=["sent_at"],
                condition=models.Q(step__isnull=True),
                name="pp_message_orphan_sent",
            ),
            # The health monitor's and the reports' time ranges. created_at is never
            # updated, so PostgreSQL's in-place (HOT) updates of a message stay possible.
            models.Index(fields=["created_at"], name="pp_message_created"),
        ]
        constraints = [
            # Exactly one message per (enrollment, step, visit): a retry, a re-run after a
            # crash or a second worker finds the existing row instead of sending again.
            models.UniqueConstraint(
                fields=["enrollment", "step", "visit"], name="pp_message_once_per_visit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject or self.category} -> {self.to_email}"
