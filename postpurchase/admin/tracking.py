"""Admin: what the ESPs reported about our emails (read-only), and the events on each
Message's page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from postpurchase.admin.logs import LogAdmin, ReadOnlyInline
from postpurchase.models import MessageEvent
from postpurchase.tracking.classify import reason_label

EVENT_FIELDS = [
    "occurred_at",
    "kind",
    "esp",
    "event_id",
    "message",
    "esp_message_id",
    "recipient",
    "url",
    "user_agent",
    "ip",
    "made_by",
    "reject_reason",
    "description",
    "mta_response",
    "raw",
    "received_at",
]


class MatchedFilter(admin.SimpleListFilter):
    """Events that name one of our emails, and those that do not (kept and counted:
    sent by another system through the same ESP account, or their Message deleted)."""

    title = _("matched to a message")
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        events = model_admin.get_queryset(request)
        unmatched = events.filter(message__isnull=True).count()
        return [
            ("yes", _("Yes")),
            ("no", _("No (%(n)d)") % {"n": unmatched}),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(message__isnull=False)
        if self.value() == "no":
            return queryset.filter(message__isnull=True)
        return queryset


class MadeBy:
    """The "made by" column: a person or a machine (and why), for opens and clicks."""

    @admin.display(description=_("made by"))
    def made_by(self, event: MessageEvent) -> str:
        if event.kind not in (MessageEvent.Kind.OPENED, MessageEvent.Kind.CLICKED):
            return ""
        if not event.machine:
            return str(_("a person"))
        return str(_("a machine: %(reason)s") % {"reason": reason_label(event.machine_reason)})


@admin.register(MessageEvent)
class MessageEventAdmin(MadeBy, LogAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "esp",
        "recipient",
        "message",
        "made_by",
        "reject_reason",
    ]
    list_filter = ["kind", "esp", "machine", MatchedFilter, "occurred_at"]
    search_fields = ["recipient", "esp_message_id", "event_id"]
    list_select_related = ["message"]
    date_hierarchy = "occurred_at"
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS


class MessageEventInline(MadeBy, ReadOnlyInline, admin.TabularInline):
    """The ESP's events for one email, oldest first."""

    model = MessageEvent
    fields = ["occurred_at", "kind", "esp", "url", "made_by", "reject_reason", "description"]
    readonly_fields = fields
    ordering = ["occurred_at"]
    extra = 0
    show_change_link = True
