"""Consent to marketing email: the history of every change (append-only), the current
state per contact and purpose, and the erased addresses never to be mailed again.
The rules that read them live in ``postpurchase/consent/``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.contacts import EmailFrequency


class Purpose(models.TextChoices):
    """Marketing as a whole, and its sub-categories (the same values as
    ``MarketingTopic``, so an email step's topic names its purpose)."""

    MARKETING = "marketing", _("Marketing email")
    OFFERS = "offers", _("Offers and discounts")
    REVIEWS = "reviews", _("Reviews and surveys")
    TIPS = "tips", _("Product tips")
    # Not a consent: the frequency the customer chose (ConsentRecord.frequency).
    FREQUENCY = "frequency", _("Email frequency")


class ConsentState(models.TextChoices):
    GRANTED = "granted", _("Granted")
    SOFT_OPT_IN = "soft_opt_in", _("Soft opt-in (existing customer)")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", _("Checkout checkbox")
    ACCOUNT = "account", _("Account page")
    IMPORT = "import", _("Import")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    ONE_CLICK = "one_click", _("One-click unsubscribe")
    ESP_UNSUBSCRIBE = "esp_unsubscribe", _("Unsubscribe reported by the ESP")
    ESP_COMPLAINT = "esp_complaint", _("Spam complaint reported by the ESP")
    PREFERENCE_CENTRE = "preferences", _("Preference centre")
    ADMIN = "admin", _("Staff in the admin")


class ConsentRecord(models.Model):
    """One change of consent (or of the chosen frequency), as it happened: never updated
    or deleted except with its contact (an erasure)."""

    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="consent_records",
        verbose_name=_("contact"),
    )
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    # Empty for a frequency record.
    state = models.CharField(_("state"), max_length=12, choices=ConsentState.choices, blank=True)
    # Set for a frequency record only.
    frequency = models.CharField(
        _("email frequency"), max_length=12, choices=EmailFrequency.choices, blank=True
    )
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    wording = models.TextField(
        _("wording shown"), blank=True, help_text=_("What the customer read when choosing.")
    )
    # The email whose link (or ESP report) made the change, if any.
    message = models.ForeignKey(
        "postpurchase.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
        verbose_name=_("message"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), db_index=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent history")
        ordering = ["-recorded_at", "-pk"]

    def __str__(self) -> str:
        what = self.frequency if self.purpose == Purpose.FREQUENCY else self.state
        return f"{self.purpose}: {what} ({self.source})"


class Consent(models.Model):
    """The current state of one purpose for one contact: the latest ConsentRecord of
    that purpose, kept as a row so the check before sending reads one query a batch."""

    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="consents",
        verbose_name=_("contact"),
    )
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    state = models.CharField(_("state"), max_length=12, choices=ConsentState.choices)
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["contact", "purpose"], name="pp_consent_once")
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {self.state}"


class ErasedAddress(models.Model):
    """An address whose contact was erased, kept only as a keyed hash (HMAC-SHA256 of
    the normalized address with SECRET_KEY): no email goes to it until staff lift it."""

    digest = models.CharField(_("address hash"), max_length=64, unique=True)
    erased_at = models.DateTimeField(_("erased at"))

    class Meta:
        verbose_name = _("erased address")
        verbose_name_plural = _("erased addresses")

    def __str__(self) -> str:
        return self.digest[:12]
