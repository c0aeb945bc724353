"""Admin: replenishment predictions and the learned consumption cycles, read-only (the
app keeps them current from the orders; see docs/replenishment.md)."""

from __future__ import annotations

from django.contrib import admin

from postpurchase.admin.logs import LogAdmin
from postpurchase.models import LearnedCycle, PurchasedProduct


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
    list_filter = ["cycle_source", ("predicted_on", admin.EmptyFieldListFilter), "predicted_on"]
    search_fields = ["sku", "name", "category", "contact__email"]
    list_select_related = ["contact"]
    date_hierarchy = "predicted_on"
    readonly_fields = [
        "contact",
        "sku",
        "name",
        "category",
        "item",
        "orders",
        "units",
        "last_quantity",
        "last_ordered_at",
        "last_order_ref",
        "intervals",
        "days_per_unit",
        "cycle_source",
        "predicted_on",
        "updated_at",
    ]
    fields = readonly_fields


@admin.register(LearnedCycle)
class LearnedCycleAdmin(LogAdmin):
    list_display = ["key", "kind", "days_per_unit", "observations", "refreshed_at"]
    list_filter = ["kind"]
    search_fields = ["key"]
    readonly_fields = ["kind", "key", "days_per_unit", "observations", "refreshed_at"]
    fields = readonly_fields
