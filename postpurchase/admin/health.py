"""Admin: the health monitor's incidents (read-only), and the banner of open ones on the
admin index, the app's index and the flow pages."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from postpurchase.admin.logs import LogAdmin
from postpurchase.models import Incident
from postpurchase.monitoring import describe

#: The admin index with the banner on top (templates/admin/postpurchase/index.html).
INDEX_TEMPLATE = "admin/postpurchase/index.html"


@admin.register(Incident)
class IncidentAdmin(LogAdmin):
    list_display = ["kind", "opened_at", "last_seen_at", "resolved_at", "notified_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter), "opened_at"]
    date_hierarchy = "opened_at"
    fields = [
        "kind",
        "summary",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "details",
    ]
    readonly_fields = fields

    @admin.display(description=_("what happened"))
    def summary(self, obj: Incident) -> str:
        return describe(obj)


# The site's own index template wins: a shop that set one adds the banner with
# {% load postpurchase_health %}{% postpurchase_health_banner %} (docs/monitoring.md).
if admin.site.index_template is None:
    admin.site.index_template = INDEX_TEMPLATE
