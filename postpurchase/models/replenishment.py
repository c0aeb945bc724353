"""Replenishment: what each contact bought, per product, with the date they will
probably need it again; and the consumption cycles learned from the shop's repurchases."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField
from postpurchase.models.recommendations import CATEGORY_MAX_LENGTH, SKU_MAX_LENGTH


class CycleSource(models.TextChoices):
    CONFIGURED = "configured", _("configured for the product")
    CATEGORY_SETTING = "category_setting", _("configured for the category")
    PRODUCT = "product", _("learned from the product's repurchases")
    CATEGORY = "category", _("learned from the category's repurchases")
    NONE = "", _("not known yet")


class PurchasedProduct(models.Model):
    """One contact's purchases of one product (from their ``order_placed`` events)."""

    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="purchased_products",
        verbose_name=_("contact"),
    )
    sku = models.CharField(_("SKU"), max_length=SKU_MAX_LENGTH)
    name = models.TextField(_("product"), blank=True)
    category = models.CharField(_("category"), max_length=CATEGORY_MAX_LENGTH, blank=True)
    item = models.JSONField(_("item as last ordered"), default=dict, blank=True)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    units = models.PositiveIntegerField(_("units"), default=0)
    last_quantity = models.PositiveIntegerField(_("last quantity"), default=1)
    last_ordered_at = models.DateTimeField(_("last ordered at"))
    last_order_ref = models.CharField(_("last order"), max_length=200, blank=True)
    # Days per unit between this contact's consecutive orders of the product (the
    # latest few): what the shop-wide learned cycles are computed from.
    intervals = models.JSONField(_("days per unit between orders"), default=list, blank=True)
    days_per_unit = models.FloatField(_("days per unit"), null=True, blank=True)
    cycle_source = models.CharField(
        _("cycle from"), max_length=20, choices=CycleSource.choices, blank=True, default=""
    )
    predicted_on = models.DateField(_("needed again on"), null=True, blank=True)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("replenishment prediction")
        verbose_name_plural = _("replenishment predictions")
        ordering = ["predicted_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "sku"], name="pp_purchased_product")
        ]
        indexes = [
            models.Index(fields=["predicted_on", "contact"], name="pp_replenish_due"),
            models.Index(fields=["sku"], name="pp_purchased_sku"),
        ]

    def __str__(self) -> str:
        return self.name or self.sku


class LearnedCycle(models.Model):
    """The median days per unit between repurchases of a product or a category."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("product")
        CATEGORY = "category", _("category")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    key = models.CharField(_("SKU or category"), max_length=SKU_MAX_LENGTH)
    days_per_unit = models.FloatField(_("days per unit"))
    observations = models.PositiveIntegerField(_("observations"))
    refreshed_at = ClockDateTimeField(_("refreshed at"), auto_now=True)

    class Meta:
        verbose_name = _("learned consumption cycle")
        verbose_name_plural = _("learned consumption cycles")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="pp_learned_cycle")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
