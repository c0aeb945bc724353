"""Admin for coupons: policies with their results, issued codes, redemptions.

Imported at the end of ``postpurchase.admin.flows``.
"""

from __future__ import annotations

import csv

from django.contrib import admin
from django.db.models import Count, DecimalField, Exists, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from postpurchase import clock
from postpurchase.admin.logs import LogAdmin, csv_cell
from postpurchase.admin.orders import order_cell, with_order_numbers
from postpurchase.formats import money
from postpurchase.models import Coupon, CouponPolicy, CouponRedemption


def _count(queryset, outer: str = "policy") -> Subquery:
    return Coalesce(
        Subquery(
            queryset.filter(**{outer: OuterRef("pk")})
            .order_by()
            .values(outer)
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def policy_stats(queryset, now=None):
    """Annotate policies with issued, redeemed, expired (unused) counts and revenue."""
    now = now or clock.now()
    redeemed_any = CouponRedemption.objects.filter(coupon=OuterRef("pk"))
    expired = Coupon.objects.filter(
        Q(expired_at__isnull=False) | Q(expires_at__lte=now), ~Exists(redeemed_any)
    )
    revenue = (
        CouponRedemption.objects.filter(coupon__policy=OuterRef("pk"))
        .order_by()
        .values("coupon__policy")
        .annotate(total=Sum("cart_total"))
        .values("total")[:1]
    )
    return queryset.annotate(
        issued_count=_count(Coupon.objects.all()),
        redeemed_count=_count(CouponRedemption.objects.all(), "coupon__policy"),
        expired_count=_count(expired),
        revenue=Coalesce(
            Subquery(revenue, output_field=DecimalField(max_digits=14, decimal_places=2)),
            0,
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
    )


@admin.register(CouponPolicy)
class CouponPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "value",
        "validity_days",
        "uses_per_code",
        "is_active",
        "issued",
        "redeemed",
        "expired",
        "revenue_display",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["issued", "redeemed", "expired", "revenue_display"]
    fieldsets = [
        (None, {"fields": ["name", "is_active"]}),
        (_("Value"), {"fields": ["kind", "percent", "amount", "currency"]}),
        (
            _("Conditions"),
            {"fields": ["minimum_total", "validity_days", "uses_per_code", "categories"]},
        ),
        (_("Codes"), {"fields": ["code_prefix", "code_length"]}),
        (_("Results"), {"fields": ["issued", "redeemed", "expired", "revenue_display"]}),
    ]

    def get_queryset(self, request):
        return policy_stats(super().get_queryset(request))

    @admin.display(description=_("value"))
    def value(self, obj):
        if obj.kind == CouponPolicy.Kind.PERCENT and obj.percent is not None:
            return f"{money(obj.percent)}%"
        if obj.kind == CouponPolicy.Kind.FIXED and obj.amount is not None:
            return money(obj.amount, obj.currency)
        return obj.get_kind_display()

    @admin.display(description=_("issued"), ordering="issued_count")
    def issued(self, obj):
        return getattr(obj, "issued_count", 0)

    @admin.display(description=_("redeemed"), ordering="redeemed_count")
    def redeemed(self, obj):
        return getattr(obj, "redeemed_count", 0)

    @admin.display(description=_("expired unused"), ordering="expired_count")
    def expired(self, obj):
        return getattr(obj, "expired_count", 0)

    @admin.display(description=_("revenue of redeemed orders"), ordering="revenue")
    def revenue_display(self, obj):
        return money(getattr(obj, "revenue", 0) or 0, obj.currency)


class CouponRedemptionInline(admin.TabularInline):
    model = CouponRedemption
    extra = 0
    can_delete = False
    fields = ["order", "email", "cart_total", "discount", "currency", "redeemed_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return with_order_numbers(super().get_queryset(request))

    @admin.display(description=_("order"))
    def order(self, obj):
        return order_cell(obj.order_ref, obj.order_number)

    def has_add_permission(self, request, obj=None):
        return False


#: Columns of the CSV export.
CSV_COLUMNS = [
    "code",
    "email",
    "policy",
    "kind",
    "percent",
    "amount",
    "currency",
    "minimum_total",
    "uses_left",
    "issued_at",
    "expires_at",
    "expired_at",
    "redemptions",
    "redeemed_total",
]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "contact",
        "policy",
        "value_text",
        "uses_left",
        "issued_at",
        "expires_at",
    ]
    list_filter = ["policy", "kind", "issued_at", "expires_at"]
    search_fields = ["code", "contact__email"]
    list_select_related = ["contact", "policy"]
    raw_id_fields = ["contact", "message"]
    date_hierarchy = "issued_at"
    inlines = [CouponRedemptionInline]
    actions = ["export_csv"]
    readonly_fields = [
        "policy",
        "code",
        "contact",
        "message",
        "kind",
        "percent",
        "amount",
        "currency",
        "minimum_total",
        "categories",
        "issued_at",
        "expired_at",
    ]

    def has_add_permission(self, request):
        return False  # codes are issued by email steps (or postpurchase.coupons.issue_coupon)

    @admin.display(description=_("value"))
    def value_text(self, obj):
        return obj.value_text

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.export_coupon")

    @admin.action(description=_("Export selected coupons as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        queryset = (
            queryset.select_related("contact", "policy")
            .annotate(
                redemption_count=Count("redemptions"),
                redeemed_total=Sum("redemptions__cart_total"),
            )
            .order_by("issued_at", "pk")
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="coupons.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for c in queryset.iterator(chunk_size=2000):
            writer.writerow(
                [
                    csv_cell(v)
                    for v in (
                        c.code,
                        c.contact.email,
                        c.policy.name,
                        c.kind,
                        c.percent,
                        c.amount,
                        c.currency,
                        c.minimum_total,
                        c.uses_left,
                        c.issued_at.isoformat(),
                        c.expires_at.isoformat(),
                        c.expired_at.isoformat() if c.expired_at else "",
                        c.redemption_count,
                        "" if c.redeemed_total is None else f"{c.redeemed_total:.2f}",
                    )
                ]
            )
        return response


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(LogAdmin):
    actions = ["export_csv"]
    list_display = ["coupon", "order_ref", "email", "cart_total", "discount", "redeemed_at"]
    list_filter = ["coupon__policy", "redeemed_at"]
    search_fields = ["coupon__code", "order_ref", "email"]
    raw_id_fields = ["coupon"]
    date_hierarchy = "redeemed_at"
    export_select_related = ["coupon__policy"]
    export_columns = [
        ("id", lambda r: r.pk),
        ("code", lambda r: r.coupon.code),
        ("policy", lambda r: r.coupon.policy.name),
        ("order_ref", lambda r: r.order_ref),
        ("email", lambda r: r.email),
        ("cart_total", lambda r: r.cart_total),
        ("discount", lambda r: r.discount),
        ("currency", lambda r: r.currency),
        ("redeemed_at", lambda r: r.redeemed_at),
    ]
