"""Admin: a flow's analytics page (figures per step, a chart over time) and its CSV.

Reached from the flow's change page and from the flow list; staff need the view
permission on flows. The figures come from :mod:`postpurchase.analytics.reports`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from postpurchase.admin.logs import LogAdmin, csv_response
from postpurchase.analytics import chart
from postpurchase.analytics.reports import Figures, Report, default_range, flow_report, parse_range
from postpurchase.formats import money, number, percent
from postpurchase.models import Conversion, Flow

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    header: str
    #: The cell on the page (text or safe HTML).
    show: Callable[[Figures], Any]
    #: The cell in the CSV (a number, unformatted), for the non-money columns.
    raw: Callable[[Figures], Any] | None
    #: "machine" columns are set apart on the page.
    group: str = ""


def _count(name: str, header: str) -> Column:
    return Column(header, lambda f: number(getattr(f, name)), lambda f: getattr(f, name))


def _rate(name: str, header: str) -> Column:
    return Column(
        header,
        lambda f: percent(getattr(f, name)),
        lambda f: "" if getattr(f, name) is None else round(getattr(f, name), 4),
    )


def _money_lines(amounts: dict[str, Decimal]) -> Any:
    if not amounts:
        return "–"
    return format_html_join(
        mark_safe("<br>"), "{}", ((money(amounts[c], c),) for c in sorted(amounts))
    )


def _split(column: Column) -> tuple[Callable, Callable | None]:
    return column.show, column.raw


def columns(report: Report) -> list[tuple[str, Column]]:
    """The table's columns, as (key, column), in order; goal conversions only for a flow
    with a goal (or that has some)."""
    headers = {
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "bounced": _("Bounced"),
        "opened": _("Opened"),
        "open_rate": _("Open rate"),
        "clicked": _("Clicked"),
        "click_rate": _("Click rate"),
        "click_to_open": _("Click-to-open"),
        "conversions": _("Conversions"),
        "conversion_rate": _("Conversion rate"),
        "revenue": _("Revenue"),
        "revenue_per_recipient": _("Revenue per recipient"),
        "goals": _("Goal conversions"),
        "unsubscribed": _("Unsubscribed"),
        "complained": _("Complaints"),
        "machine_opens": _("Machine opens"),
        "machine_clicks": _("Machine clicks"),
    }
    built: dict[str, Column] = {}
    for key, header in headers.items():
        if key.endswith("rate") or key == "click_to_open":
            built[key] = _rate(key, header)
        elif key == "revenue":
            built[key] = Column(header, lambda f: _money_lines(f.revenue), None)
        elif key == "revenue_per_recipient":
            built[key] = Column(header, lambda f: _money_lines(f.revenue_per_recipient), None)
        elif key.startswith("machine"):
            built[key] = Column(header, *_split(_count(key, header)), group="machine")
        else:
            built[key] = _count(key, header)
    if not (report.flow.goal_event or report.total.goals):
        del built["goals"]
    return list(built.items())


def figure_lines(figures: Figures) -> list[str]:
    """A step's all-time figures in a few words, for the flow diagram."""
    lines = [
        _("%(rate)s opened") % {"rate": percent(figures.open_rate)},
        _("%(rate)s clicked") % {"rate": percent(figures.click_rate)},
        _("conversions: %(n)s") % {"n": number(figures.conversions)},
    ]
    lines += [money(amount, currency) for currency, amount in sorted(figures.revenue.items())]
    if figures.bounced or figures.complained or figures.unsubscribed:
        lines.append(
            _("%(b)s bounced, %(c)s complaints, %(u)s unsubscribed")
            % {"b": figures.bounced, "c": figures.complained, "u": figures.unsubscribed}
        )
    return lines


def _permitted(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int) -> Flow:
    flow = get_object_or_404(Flow, pk=object_id)
    if not model_admin.has_view_permission(request, flow):
        raise PermissionDenied
    return flow


def analytics_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int):
    flow = _permitted(model_admin, request, object_id)
    start, end = parse_range(request.GET)
    report = flow_report(flow, start, end)
    cols = columns(report)
    rows = [
        {
            "label": row.label,
            "step": row.step,
            "cells": [(c, c.show(row.figures)) for _k, c in cols],
        }
        for row in report.steps
    ]
    total = {"label": _("All emails"), "cells": [(c, c.show(report.total)) for _k, c in cols]}
    today_start, today = default_range()
    query = f"?start={start.isoformat()}&end={end.isoformat()}"
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Analytics: %(flow)s") % {"flow": flow.name},
        "opts": Flow._meta,
        "flow": flow,
        "report": report,
        "headers": [(c.header, c.group) for _k, c in cols],
        "rows": rows,
        "total": total,
        "chart": chart.render(report.series, report.bucket),
        "start": start,
        "end": end,
        "presets": [
            (_("Last 7 days"), today - timedelta(days=6), today),
            (_("Last 30 days"), today_start, today),
            (_("Last 90 days"), today - timedelta(days=89), today),
            (_("Last 365 days"), today - timedelta(days=364), today),
        ],
        "csv_url": reverse("admin:postpurchase_flow_analytics_csv", args=[flow.pk]) + query,
        "change_url": reverse("admin:postpurchase_flow_change", args=[flow.pk]),
    }
    return TemplateResponse(request, "admin/postpurchase/flow/analytics.html", context)


def analytics_csv(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int
) -> HttpResponse:
    """The page's table as CSV: a line per step and one for all, plain numbers (rates as
    fractions), one revenue column per currency."""
    flow = _permitted(model_admin, request, object_id)
    start, end = parse_range(request.GET)
    report = flow_report(flow, start, end)
    cols = [(k, c) for k, c in columns(report) if c.raw is not None]
    csv_columns: list[tuple[str, Callable[[Any], Any]]] = [
        (_("Step"), lambda r: r[0]),
        (_("From"), lambda r: start),
        (_("To"), lambda r: end),
    ]
    for key, column in cols:
        csv_columns.append((column.header, lambda r, c=column: c.raw(r[1])))
        if key == "conversion_rate":
            for currency in report.currencies:
                csv_columns.append(
                    (
                        _("Revenue (%(currency)s)") % {"currency": currency},
                        lambda r, cur=currency: r[1].revenue.get(cur, Decimal(0)).quantize(CENT),
                    )
                )
                csv_columns.append(
                    (
                        _("Revenue per recipient (%(currency)s)") % {"currency": currency},
                        lambda r, cur=currency: r[1].revenue_per_recipient.get(cur, ""),
                    )
                )
    lines = [(row.label, row.figures) for row in report.steps]
    lines.append((_("All emails"), report.total))
    filename = f"analytics-{flow.slug}-{start.isoformat()}-{end.isoformat()}.csv"
    return csv_response(filename, csv_columns, lines)


CONVERSION_FIELDS = [
    "occurred_at",
    "kind",
    "event_name",
    "order_ref",
    "revenue",
    "currency",
    "flow",
    "step",
    "message",
    "contact",
    "touch",
    "touched_at",
    "event",
    "key",
    "created_at",
]


@admin.register(Conversion)
class ConversionAdmin(LogAdmin):
    """The attributed orders and goal events, read only (attribution writes them)."""

    list_display = ["occurred_at", "kind", "order_ref", "revenue_display", "flow", "step", "touch"]
    list_filter = ["kind", "flow", "touch", "currency", "occurred_at"]
    search_fields = ["order_ref", "contact__email"]
    list_select_related = ["flow", "step"]
    date_hierarchy = "occurred_at"
    fields = CONVERSION_FIELDS
    readonly_fields = [*CONVERSION_FIELDS, "revenue_display"]

    @admin.display(description=gettext_lazy("revenue"), ordering="revenue")
    def revenue_display(self, obj: Conversion) -> str:
        return money(obj.revenue, obj.currency) if obj.revenue is not None else "–"
