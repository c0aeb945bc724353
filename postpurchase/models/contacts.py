from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField

#: What Contact.email holds (and SMTP carries: RFC 5321's path limit); Django's
#: validator alone would take up to 320 characters.
EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """Lower-case and strip an address; raise ValidationError when it is not one."""
    if not isinstance(email, str):
        raise ValidationError(_("An email address must be a string."))
    value = email.strip().lower()
    if len(value) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            _("An email address can be at most %(max)d characters long."),
            code="max_length",
            params={"max": EMAIL_MAX_LENGTH},
        )
    validate_email(value)
    return value


class EmailFrequency(models.TextChoices):
    ALL = "all", _("Everything")
    WEEKLY = "weekly", _("At most one a week")
    MONTHLY = "monthly", _("At most one a month")
    ORDERS_ONLY = "orders_only", _("Only order updates")


class Contact(models.Model):
    """A customer we may email, one per normalized address."""

    email = models.EmailField(_("email"), max_length=EMAIL_MAX_LENGTH, unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="postpurchase_contacts",
    )
    locale = models.CharField(_("language"), max_length=16, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    attributes = models.JSONField(
        _("attributes"),
        default=dict,
        blank=True,
        help_text=_(
            "What the shop's adapter tells about the customer (age_band, gender, city, "
            "country, ...), for segments."
        ),
    )
    birthday = models.DateField(
        _("birthday"),
        null=True,
        blank=True,
        help_text=_("Given by the shop's adapter; the birthday date trigger uses it."),
    )
    unsubscribed_at = models.DateTimeField(
        _("unsubscribed from marketing at"), null=True, blank=True
    )
    suppressed_at = models.DateTimeField(
        _("suppressed at"),
        null=True,
        blank=True,
        help_text=_("Set on hard bounce or spam complaint: no email at all is sent."),
    )
    suppression_reason = models.CharField(_("suppression reason"), max_length=64, blank=True)
    email_frequency = models.CharField(
        _("email frequency"),
        max_length=12,
        choices=EmailFrequency.choices,
        default=EmailFrequency.ALL,
    )
    created_at = ClockDateTimeField(_("created"), auto_now_add=True)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        permissions = [
            ("export_contact_data", _("Can export everything about a contact (JSON)")),
            ("erase_contact", _("Can erase a contact (and block the address)")),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def accepts(self, category: str) -> bool:
        """May this contact receive an email of ``category`` (transactional/marketing)?"""
        if self.suppressed_at:
            return False
        return not (category == "marketing" and self.unsubscribed_at)
