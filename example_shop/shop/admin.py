from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Category, Order, OrderItem, Product, Review
from .orders import set_status


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "category", "price", "currency", "is_active"]
    list_filter = ["category", "is_active"]
    list_editable = ["is_active"]
    search_fields = ["name", "sku"]
    prepopulated_fields = {"slug": ["name"]}


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["product", "sku", "name", "category_name", "price", "qty"]
    raw_id_fields = ["product"]


def _status_action(status: str, label: str) -> Callable[..., None]:
    def action(modeladmin: OrderAdmin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        changed = sum(set_status(order, status) for order in queryset)
        modeladmin.message_user(
            request,
            f"{changed} order(s) marked {label.lower()}; {queryset.count() - changed} unchanged.",
            messages.SUCCESS,
        )

    action.__name__ = f"mark_{status}"
    return admin.action(description=f"Mark selected orders {label.lower()}")(action)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "email", "customer_name", "status", "total", "currency", "created_at"]
    list_filter = ["status", "shipping_method", "payment_method", "locale", "created_at"]
    search_fields = ["number", "email", "first_name", "last_name", "phone"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user"]
    # Set at checkout by postpurchase's coupon redemption; not edited afterwards.
    readonly_fields = ["coupon_code", "discount"]
    inlines = [OrderItemInline]
    # Django 6 defaults bare domains to https; say so now and skip the deprecation warning.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = [
        _status_action(Order.Status.PROCESSING, "Processing (paid)"),
        _status_action(Order.Status.SHIPPED, "Shipped"),
        _status_action(Order.Status.DELIVERED, "Delivered"),
        _status_action(Order.Status.CANCELLED, "Cancelled"),
        _status_action(Order.Status.REFUNDED, "Refunded"),
    ]

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        if change and "status" in form.changed_data:
            # Save the other edits with the old status first, then let set_status() move
            # it and send the signal (changeform_view already runs in a transaction).
            new_status = obj.status
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            set_status(obj, new_status)
        else:
            super().save_model(request, obj, form, change)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["product", "name", "email", "rating", "order", "created_at"]
    list_filter = ["rating", "created_at"]
    search_fields = ["email", "name", "text", "product__name"]
    raw_id_fields = ["product", "order", "user"]
