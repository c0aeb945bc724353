"""What a flow earned: an order (or a flow's goal event) that followed a human click or
open of one of its emails, attributed to that email (see postpurchase.analytics)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class Conversion(models.Model):
    """One attributed order or goal event, kept once per ``key``: an order counts once
    (whichever email gets it, and however often the shop signals it); a goal event once
    per flow whose goal it is."""

    class Kind(models.TextChoices):
        ORDER = "order", _("Order")
        GOAL = "goal", _("Goal")

    class Touch(models.TextChoices):
        CLICK = "click", _("Click")
        OPEN = "open", _("Open")

    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices)
    # "order:<order_ref>" (or "event:<id>" for an order without a reference), or
    # "goal:<flow id>:<event name>:<order_ref, ref or event id>".
    key = models.CharField(_("key"), max_length=255, unique=True)
    event = models.ForeignKey(
        "postpurchase.Event",
        null=True,
        on_delete=models.SET_NULL,  # events may be purged; the conversion stays
        related_name="conversions",
        verbose_name=_("event"),
    )
    # CASCADE: the message goes with its contact (an erasure request), its enrollment
    # or its flow, and what it earned with it.
    message = models.ForeignKey(
        "postpurchase.Message",
        on_delete=models.CASCADE,
        related_name="conversions",
        verbose_name=_("message"),
    )
    flow = models.ForeignKey(
        "postpurchase.Flow",
        on_delete=models.CASCADE,
        related_name="conversions",
        verbose_name=_("flow"),
    )
    step = models.ForeignKey(
        "postpurchase.Step",
        null=True,
        on_delete=models.SET_NULL,
        related_name="conversions",
        verbose_name=_("step"),
    )
    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="conversions",
        verbose_name=_("contact"),
    )
    event_name = models.CharField(_("event name"), max_length=100)
    order_ref = models.CharField(_("order reference"), max_length=200, blank=True)
    touch = models.CharField(_("touch"), max_length=5, choices=Touch.choices)
    touched_at = models.DateTimeField(_("clicked or opened at"))
    # The order's total in its currency (orders only; None when the order gave none).
    revenue = models.DecimalField(
        _("revenue"), max_digits=20, decimal_places=4, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    occurred_at = models.DateTimeField(_("converted at"))
    # The email's sent time, copied: the reports group conversions by the day their
    # email went out without joining the messages.
    sent_at = models.DateTimeField(_("email sent at"))
    created_at = ClockDateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("conversion")
        verbose_name_plural = _("conversions")
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["flow", "sent_at"], name="pp_conversion_flow_sent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.order_ref or self.event_name}"
