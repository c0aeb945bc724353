"""Coupons: a policy staff edit in admin, the codes issued from it, their redemptions.

The functions that issue, check, redeem and expire codes live in
:mod:`postpurchase.coupons`; these models only hold the data and validate a policy.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from postpurchase.formats import money
from postpurchase.models.fields import ClockDateTimeField
from postpurchase.windows import zone

#: Letters and digits that cannot be mistaken for one another: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: A code must carry at least this much randomness (not counting the prefix).
MIN_CODE_ENTROPY_BITS = 50
#: The shortest random part that reaches MIN_CODE_ENTROPY_BITS with CODE_ALPHABET.
MIN_CODE_LENGTH = math.ceil(MIN_CODE_ENTROPY_BITS / math.log2(len(CODE_ALPHABET)))
MAX_CODE_LENGTH = 32


def code_entropy_bits(length: int, alphabet: str = CODE_ALPHABET) -> float:
    return length * math.log2(len(alphabet))


def validate_code_prefix(value: str) -> None:
    if value and any(c not in CODE_ALPHABET + "-" for c in value):
        raise ValidationError(
            _(
                "The prefix may use only upper-case letters and digits without look-alikes "
                "(no 0, O, 1, I, L) and dashes: %(alphabet)s-"
            ),
            code="invalid_prefix",
            params={"alphabet": CODE_ALPHABET},
        )


def split_categories(value: str) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


class CouponPolicy(models.Model):
    """What a coupon is worth and how its codes look; an email step may carry one."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percent off")
        FIXED = "fixed", _("Fixed amount off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices, default=Kind.PERCENT)
    percent = models.DecimalField(
        _("percent off"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
    )
    amount = models.DecimalField(
        _("amount off"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO code, e.g. RUB or EUR. Required for a fixed amount or a minimum total."),
    )
    minimum_total = models.DecimalField(
        _("minimum order total"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    validity_days = models.PositiveIntegerField(
        _("valid for (days from issue)"), default=30, validators=[MinValueValidator(1)]
    )
    uses_per_code = models.PositiveIntegerField(
        _("uses per code"), default=1, validators=[MinValueValidator(1)]
    )
    categories = models.CharField(
        _("only for categories"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated product categories; empty: any product."),
    )
    code_prefix = models.CharField(
        _("code prefix"),
        max_length=12,
        blank=True,
        validators=[validate_code_prefix],
        help_text=_('Optional, e.g. "THANKS-". Not counted in the code length.'),
    )
    code_length = models.PositiveSmallIntegerField(
        _("code length"),
        default=12,
        help_text=_("Random characters after the prefix; at least %(min)d (50 bits).")
        % {"min": MIN_CODE_LENGTH},
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive policies issue no new codes.")
    )
    created_at = ClockDateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon policy")
        verbose_name_plural = _("coupon policies")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.currency:
            self.currency = self.currency.upper()
        self.code_prefix = (self.code_prefix or "").upper()
        super().save(*args, **kwargs)

    @property
    def category_list(self) -> list[str]:
        return split_categories(self.categories)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list] = {}
        if self.kind == self.Kind.PERCENT:
            if self.percent is None:
                errors.setdefault("percent", []).append(
                    _("A percent-off coupon needs the percent (0.01-100).")
                )
            if self.amount is not None:
                errors.setdefault("amount", []).append(
                    _("Leave the amount empty for a percent-off coupon.")
                )
        elif self.kind == self.Kind.FIXED:
            if self.amount is None or self.amount <= 0:
                errors.setdefault("amount", []).append(
                    _("A fixed-amount coupon needs an amount greater than zero.")
                )
            if not self.currency:
                errors.setdefault("currency", []).append(
                    _("A fixed-amount coupon needs the currency of its amount.")
                )
            if self.percent is not None:
                errors.setdefault("percent", []).append(
                    _("Leave the percent empty for a fixed-amount coupon.")
                )
        elif self.kind == self.Kind.FREE_SHIPPING:
            if self.percent is not None or self.amount is not None:
                errors.setdefault("kind", []).append(
                    _("A free-shipping coupon has neither a percent nor an amount.")
                )
        if self.minimum_total and not self.currency:
            errors.setdefault("currency", []).append(
                _("A minimum order total needs the currency it is counted in.")
            )
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha()):
            errors.setdefault("currency", []).append(
                _("Use a three-letter ISO currency code, e.g. EUR.")
            )
        if self.code_length is not None:
            if code_entropy_bits(self.code_length) < MIN_CODE_ENTROPY_BITS:
                errors.setdefault("code_length", []).append(
                    _(
                        "Codes of %(length)d characters are too easy to guess: use at least "
                        "%(min)d (%(bits)d bits of randomness)."
                    )
                    % {
                        "length": self.code_length,
                        "min": MIN_CODE_LENGTH,
                        "bits": MIN_CODE_ENTROPY_BITS,
                    }
                )
            elif self.code_length > MAX_CODE_LENGTH:
                errors.setdefault("code_length", []).append(
                    _("Use at most %(max)d characters.") % {"max": MAX_CODE_LENGTH}
                )
        if errors:
            raise ValidationError(errors)


class Coupon(models.Model):
    """One code, bound to one contact. The value is copied from the policy at issue so
    a later edit of the policy never changes a code already mailed."""

    policy = models.ForeignKey(
        CouponPolicy, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("policy")
    )
    code = models.CharField(_("code"), max_length=48, unique=True)
    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="coupons",
        verbose_name=_("contact"),
    )
    message = models.ForeignKey(
        "postpurchase.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="coupons",
        verbose_name=_("message"),
    )
    kind = models.CharField(_("kind"), max_length=15, choices=CouponPolicy.Kind.choices)
    percent = models.DecimalField(
        _("percent off"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    amount = models.DecimalField(
        _("amount off"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    minimum_total = models.DecimalField(
        _("minimum order total"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    categories = models.CharField(_("only for categories"), max_length=500, blank=True)
    uses_left = models.PositiveIntegerField(_("uses left"))
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    expired_at = models.DateTimeField(
        _("expiry processed at"),
        null=True,
        blank=True,
        help_text=_("Set once by the expiry job, which then tells the adapter."),
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        constraints = [
            # One code per (message, policy): a retried send finds the code it issued.
            models.UniqueConstraint(
                fields=["message", "policy"],
                name="pp_coupon_once_per_message",
                condition=Q(message__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["expired_at", "expires_at"], name="pp_coupon_expiry")]
        permissions = [("export_coupon", _("Can export coupons as CSV"))]

    def __str__(self) -> str:
        return self.code

    @property
    def category_list(self) -> list[str]:
        return split_categories(self.categories)

    @property
    def value_text(self) -> str:
        """What the code is worth, in the active language: "10%", "500 ₽", "$5"."""
        if self.kind == CouponPolicy.Kind.PERCENT and self.percent is not None:
            return f"{money(self.percent)}%"
        if self.kind == CouponPolicy.Kind.FIXED and self.amount is not None:
            return money(self.amount, self.currency)
        return str(_("free shipping"))

    @property
    def minimum_text(self) -> str:
        """The minimum order total with its currency, or "" when there is none."""
        return money(self.minimum_total, self.currency) if self.minimum_total else ""

    @property
    def expires_on(self):
        """The last valid day in the contact's time zone (show it with ``|local_date``)."""
        moment = self.expires_at - timedelta(microseconds=1)
        return moment.astimezone(zone(self.contact.timezone)).date()

    @property
    def is_free_shipping(self) -> bool:
        return self.kind == CouponPolicy.Kind.FREE_SHIPPING


class CouponRedemption(models.Model):
    """One use of a code for one order."""

    coupon = models.ForeignKey(
        Coupon, on_delete=models.CASCADE, related_name="redemptions", verbose_name=_("coupon")
    )
    order_ref = models.CharField(_("order reference"), max_length=200)
    email = models.EmailField(_("email"), max_length=254)
    cart_total = models.DecimalField(_("order total"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(
        _("discount"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"))

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        permissions = [("export_couponredemption", _("Can export coupon redemptions as CSV"))]
        ordering = ["-redeemed_at"]
        constraints = [
            models.UniqueConstraint(fields=["coupon", "order_ref"], name="pp_coupon_redeem_once")
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} for {self.order_ref}"
