"""What recommendations are computed from, refreshed by a periodic job so that an email
renders them with a few indexed reads: one row per product, per product and day, per
pair of products bought together, and the job's place in the event history."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField

#: What ProductStat.sku and the other tables' SKUs hold; longer SKUs are left out.
SKU_MAX_LENGTH = 200
CATEGORY_MAX_LENGTH = 200


class ProductStat(models.Model):
    """A product as the latest order showed it, and how often it was ordered."""

    sku = models.CharField(_("SKU"), max_length=SKU_MAX_LENGTH, unique=True)
    name = models.TextField(_("name"), blank=True)
    category = models.CharField(_("category"), max_length=CATEGORY_MAX_LENGTH, blank=True)
    price = models.DecimalField(_("price"), max_digits=18, decimal_places=4, null=True)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    item = models.JSONField(_("item as last ordered"), default=dict, blank=True)
    orders_total = models.PositiveIntegerField(_("orders"), default=0)
    orders_recent = models.PositiveIntegerField(_("recent orders"), default=0)
    last_ordered_at = models.DateTimeField(_("last ordered at"), null=True)

    class Meta:
        verbose_name = _("product statistic")
        verbose_name_plural = _("product statistics")
        indexes = [
            models.Index(
                fields=["category", "-orders_recent", "-orders_total"], name="pp_stat_cat_best"
            ),
            models.Index(fields=["-orders_recent", "-orders_total"], name="pp_stat_best"),
        ]

    def __str__(self) -> str:
        return self.sku


class ProductDay(models.Model):
    """Orders of a product on one day (UTC): the bestseller window's sliding sum."""

    sku = models.CharField(_("SKU"), max_length=SKU_MAX_LENGTH)
    day = models.DateField(_("day"), db_index=True)
    orders = models.PositiveIntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("product orders per day")
        verbose_name_plural = _("product orders per day")
        constraints = [models.UniqueConstraint(fields=["sku", "day"], name="pp_product_day")]

    def __str__(self) -> str:
        return f"{self.sku} {self.day}"


class ProductPair(models.Model):
    """How many orders held both products; stored in both directions."""

    sku = models.CharField(_("SKU"), max_length=SKU_MAX_LENGTH)
    other_sku = models.CharField(_("bought with"), max_length=SKU_MAX_LENGTH)
    orders = models.PositiveIntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("products bought together")
        verbose_name_plural = _("products bought together")
        constraints = [models.UniqueConstraint(fields=["sku", "other_sku"], name="pp_product_pair")]
        indexes = [models.Index(fields=["sku", "-orders"], name="pp_pair_best")]

    def __str__(self) -> str:
        return f"{self.sku} + {self.other_sku}"


class HistoryCursor(models.Model):
    """Where a job that walks a table in batches stands: the last id it took."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.BigIntegerField(_("position"), default=0)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("history cursor")
        verbose_name_plural = _("history cursors")

    def __str__(self) -> str:
        return f"{self.name}: {self.position}"
