"""What the admin's log pages share: rows are viewed, filtered, searched and exported as
CSV, never added, edited or deleted one by one. Changes go only through the actions
(retry, exit, resend), and each action writes the changed object's admin history."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

#: A CSV column: its header and how to read it from a row.
Column = tuple[str, Callable[[Any], Any]]


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet never runs as a formula (with every cell quoted,
    see csv_response: Russian and Ukrainian Excel split unquoted cells at ";")."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(filename: str, columns: list[Column], rows: Iterable[Any]) -> HttpResponse:
    """A CSV download of ``rows``, one line per row, the headers first."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response, quoting=csv.QUOTE_ALL)
    writer.writerow([header for header, _read in columns])
    for row in rows:
        writer.writerow([csv_cell(read(row)) for _header, read in columns])
    return response


class ReadOnlyInline:
    """A mixin for an inline of log rows: shown on the parent's page, never added,
    edited or deleted there."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class LogAdmin(admin.ModelAdmin):
    """A log: no Add button, no editable field, no delete of single rows.

    The model-level change permission stays, because the actions (retry, exit, resend)
    need it; no object is ever editable by hand. The delete permission stays too, so
    that deleting a contact (an erasure request) or a flow still removes its logs;
    only the log's own delete page and bulk delete action are gone.

    A subclass lists its CSV columns in ``export_columns``; the export action then
    needs the model's ``export_<model>`` permission.
    """

    export_columns: list[Column] = []
    export_select_related: list[str] = []

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.export_{self.opts.model_name}")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not self.export_columns:
            actions.pop("export_csv", None)
        return actions

    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        raise PermissionDenied

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def log_action_on(self, request: HttpRequest, objects: Iterable[Model], message: str) -> None:
        """One entry in each changed object's admin history."""
        for obj in objects:
            self.log_change(request, obj, message)

    @admin.action(description=_("Export the selected rows as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        if self.export_select_related:
            queryset = queryset.select_related(*self.export_select_related)
        rows = queryset.order_by("pk").iterator(chunk_size=2000)
        return csv_response(f"{self.opts.model_name}s.csv", self.export_columns, rows)
