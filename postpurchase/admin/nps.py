"""Admin for NPS: the answers, and the report (NPS over time, by flow and by product
category, with the comments). Imported at the end of ``admin.py``."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from postpurchase import nps
from postpurchase.admin.logs import LogAdmin
from postpurchase.admin.orders import order_cell, with_order_numbers
from postpurchase.models import Flow, NPSResponse


@admin.register(NPSResponse)
class NPSResponseAdmin(LogAdmin):
    """Answers come from customers only: viewed, filtered and exported, never edited."""

    actions = ["export_csv"]
    list_display = [
        "contact",
        "score",
        "category",
        "flow",
        "order",
        "short_comment",
        "created_at",
    ]
    list_filter = ["category", "flow", "created_at"]
    search_fields = ["contact__email", "order_ref", "comment"]
    date_hierarchy = "created_at"
    # contact and flow are shown on every row (flow is nullable, so Django would not
    # join it by itself).
    list_select_related = ["contact", "flow"]
    raw_id_fields = ["message", "contact", "enrollment"]
    readonly_fields = [
        "message",
        "contact",
        "enrollment",
        "flow",
        "order_ref",
        "categories",
        "score",
        "category",
        "created_at",
        "updated_at",
    ]
    change_list_template = "admin/postpurchase/npsresponse/change_list.html"
    export_select_related = ["contact", "flow"]
    export_columns = [
        ("id", lambda r: r.pk),
        ("flow", lambda r: r.flow.name if r.flow else ""),
        ("contact_id", lambda r: r.contact_id),
        ("email", lambda r: r.contact.email),
        ("order_ref", lambda r: r.order_ref),
        ("score", lambda r: r.score),
        ("category", lambda r: r.category),
        ("comment", lambda r: r.comment),
        ("created_at", lambda r: r.created_at),
        ("updated_at", lambda r: r.updated_at),
    ]

    def get_queryset(self, request):
        return with_order_numbers(super().get_queryset(request))

    @admin.display(description=_("order"), ordering="order_ref")
    def order(self, obj):
        return order_cell(obj.order_ref, obj.order_number)

    @admin.display(description=_("comment"))
    def short_comment(self, obj):
        return obj.comment if len(obj.comment) <= 80 else obj.comment[:79] + "…"

    def get_urls(self):
        return [
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="postpurchase_npsresponse_report",
            ),
            *super().get_urls(),
        ]

    def report_view(self, request):
        """NPS (% promoters - % detractors) per week or month, per flow and per product
        category, as CSS bars; and the latest comments. Needs view permission."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        period = "month" if request.GET.get("period") == "month" else "week"
        responses = NPSResponse.objects.all()
        flow_id = request.GET.get("flow", "")
        if flow_id.isdigit():
            responses = responses.filter(flow_id=int(flow_id))
        report = nps.report(with_order_numbers(responses), period)
        for response in report["comments"]:
            response.order_display = order_cell(response.order_ref, response.order_number)
        context = {
            **self.admin_site.each_context(request),
            "title": _("NPS report"),
            "opts": self.model._meta,
            "report": report,
            "flows": Flow.objects.filter(nps_responses__isnull=False).distinct(),
            "flow_id": int(flow_id) if flow_id.isdigit() else None,
        }
        return TemplateResponse(request, "admin/postpurchase/npsresponse/report.html", context)
