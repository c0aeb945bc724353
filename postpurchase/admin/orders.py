"""Orders as staff know them: the number from the order's snapshot, linked to the
shop's own admin page for the order when the adapter gives one, instead of the raw
reference ("shop.order:12")."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext

from postpurchase.adapters import get_adapter
from postpurchase.models import Event


def with_order_numbers(queryset: QuerySet, ref_field: str = "order_ref") -> QuerySet:
    """``queryset`` annotated with ``order_number``: the number in the latest snapshot
    recorded for the row's order (one subquery in the list's own query, on the indexed
    Event.order_ref; None when no snapshot gave one)."""
    numbers = (
        Event.objects.filter(order_ref=OuterRef(ref_field), snapshot__has_key="number")
        .order_by("-occurred_at", "-id")
        .values("snapshot__number")[:1]
    )
    return queryset.annotate(order_number=Subquery(numbers))


def order_label(order_ref: str, number: Any) -> str:
    """ "No. 1042" when the number is known, else the reference as stored."""
    if number not in (None, ""):
        return gettext("No. %(number)s") % {"number": number}
    return order_ref or "-"


def order_cell(order_ref: str, number: Any = None) -> str:
    """The order's label, a link to the shop's admin page for it where there is one."""
    if not order_ref:
        return "-"
    label = order_label(order_ref, number)
    url = get_adapter().order_admin_url(order_ref)
    if url:
        return format_html('<a href="{}" title="{}">{}</a>', url, order_ref, label)
    return format_html('<span title="{}">{}</span>', order_ref, label)


def may_see_orders(request: HttpRequest) -> bool:
    """A real order in the preview is a customer's name, address and purchases: for
    staff who may view events (where those snapshots are)."""
    return request.user.has_perm("postpurchase.view_event")
