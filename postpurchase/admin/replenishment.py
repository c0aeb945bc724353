"""Admin: replenishment predictions and the learned consumption cycles, read-only (the
app keeps them current from the orders; see docs/replenishment.md)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model

from postpurchase.admin.logs import LogAdmin
from postpurchase.models import LearnedCycle, PurchasedProduct


def model_fields(model: type[Model]) -> list[str]:
    """Every field of the model but its id, in their order: all shown, none editable."""
    return [f.name for f in model._meta.concrete_fields if not f.primary_key]


@admin.register(PurchasedProduct)
class PurchasedProductAdmin(LogAdmin):
    list_display = [
        "predicted_on",
        "contact",
        "name",
        "sku",
        "category",
        "last_ordered_at",
        "last_quantity",
        "orders",
        "days_per_unit",
        "cycle_source",
    ]
    list_filter = ["cycle_source", ("predicted_on", admin.EmptyFieldListFilter)]
    search_fields = ["sku", "name", "category", "contact__email"]
    list_select_related = ["contact"]
    date_hierarchy = "predicted_on"
    readonly_fields = fields = model_fields(PurchasedProduct)


@admin.register(LearnedCycle)
class LearnedCycleAdmin(LogAdmin):
    list_display = ["key", "kind", "days_per_unit", "observations", "refreshed_at"]
    list_filter = ["kind"]
    search_fields = ["key"]
    readonly_fields = fields = model_fields(LearnedCycle)
