"""Admin: what happened: contacts, events, enrollments (retry, exit) and messages
(the rendered email, resend)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from postpurchase import engine
from postpurchase.admin.tracking import MessageEventInline
from postpurchase.delivery import RESENDABLE, render_message, resend_messages
from postpurchase.exceptions import TemplateRenderError
from postpurchase.models import (
    Contact,
    Enrollment,
    Event,
    Message,
    StepRecord,
)

#: How Contact.suppression_reason values read (postpurchase.tracking writes them).
SUPPRESSION_REASONS = {
    "hard_bounce": _("Hard bounce reported by the ESP"),
    "invalid": _("Address rejected as invalid by the ESP"),
    "complaint": _("Spam complaint reported by the ESP"),
}


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "first_name",
        "last_name",
        "locale",
        "unsubscribed_at",
        "suppressed_at",
        "suppression",
        "created_at",
    ]
    list_filter = [
        "locale",
        ("unsubscribed_at", admin.EmptyFieldListFilter),
        ("suppressed_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "first_name", "last_name"]
    raw_id_fields = ["user"]
    # Set from the ESP's bounce and complaint reports (postpurchase.tracking).
    readonly_fields = ["suppressed_at", "suppression"]
    exclude = ["suppression_reason"]

    actions = ["lift_suppression"]

    @admin.action(
        description=_("Lift the suppression of the selected contacts"), permissions=["change"]
    )
    def lift_suppression(self, request, queryset):
        """Mail them again (e.g. the address was fixed); the ESP's events stay recorded,
        and the change is in each contact's history."""
        lifted = list(queryset.filter(suppressed_at__isnull=False))
        for contact in lifted:
            reason = contact.suppression_reason
            contact.suppressed_at, contact.suppression_reason = None, ""
            contact.save(update_fields=["suppressed_at", "suppression_reason", "updated_at"])
            self.log_change(request, contact, f"Suppression lifted (was: {reason or '-'})")
        self.message_user(
            request, _("%(n)d contact(s) may receive email again.") % {"n": len(lifted)}
        )

    @admin.display(description=_("suppression reason"), ordering="suppression_reason")
    def suppression(self, obj):
        return SUPPRESSION_REASONS.get(obj.suppression_reason, obj.suppression_reason) or "-"


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "contact", "ref", "occurred_at"]
    list_filter = ["name", "occurred_at"]
    search_fields = ["contact__email", "ref", "order_ref"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"


class StepRecordInline(admin.TabularInline):
    """What the steps with side effects did for the enrollment: a staff notification's
    recipients, subject and send time, a signal's action. Read-only."""

    model = StepRecord
    fields = ["step", "visit", "status", "attempts", "detail", "error", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    actions = ["retry_selected", "exit_selected"]
    inlines = [StepRecordInline]
    list_display = ["contact", "flow", "status", "step", "due_at", "triggered_at", "exit_reason"]
    list_filter = ["flow", "status", "triggered_at"]
    search_fields = ["contact__email", "order_ref"]
    raw_id_fields = ["contact", "trigger_event", "step"]
    list_select_related = ["contact", "flow", "step"]
    date_hierarchy = "triggered_at"

    @admin.action(
        description=_("Retry the selected failed or exited enrollments"), permissions=["change"]
    )
    def retry_selected(self, request, queryset):
        done = sum(engine.retry(e) for e in queryset)
        self.message_user(request, _("%(n)d enrollment(s) will run again.") % {"n": done})

    @admin.action(description=_("Exit the selected active enrollments"), permissions=["change"])
    def exit_selected(self, request, queryset):
        done = sum(engine.exit_enrollment(e, "exited by staff") for e in queryset)
        self.message_user(request, _("%(n)d enrollment(s) exited.") % {"n": done})


class PossibleDuplicateFilter(admin.SimpleListFilter):
    """Messages sent again after an attempt whose outcome was unknown (a worker died, a
    timeout): the customer may have them twice. The choices show how many."""

    title = _("possible duplicate")
    parameter_name = "possible_duplicate"

    def lookups(self, request, model_admin):
        marked = model_admin.get_queryset(request).filter(possible_duplicate_at__isnull=False)
        return [("yes", _("Yes (%(n)d)") % {"n": marked.count()}), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(possible_duplicate_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(possible_duplicate_at__isnull=True)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    actions = ["resend_selected"]
    inlines = [MessageEventInline]
    list_display = [
        "to_email",
        "subject",
        "category",
        "status",
        "language",
        "sent_at",
        "opened_at",
        "clicked_at",
        "attempts",
        "possible_duplicate_at",
    ]
    list_filter = ["status", PossibleDuplicateFilter, "category", "enrollment__flow", "sent_at"]
    search_fields = ["to_email", "subject", "esp_message_id"]
    raw_id_fields = ["enrollment", "step", "contact"]
    date_hierarchy = "created_at"
    readonly_fields = ["email_preview"]

    @admin.action(
        description=_("Resend the selected failed messages (or those of unknown outcome)"),
        permissions=["change"],
    )
    def resend_selected(self, request, queryset):
        counts = resend_messages(list(queryset.filter(status__in=RESENDABLE)))
        self.message_user(
            request,
            _(
                "Resent: %(sent)d sent, %(failed)d failed again, %(suppressed)d suppressed "
                "(unsubscribed)."
            )
            % {
                "sent": counts["sent"],
                "failed": counts["failed"],
                "suppressed": counts["suppressed"],
            },
            messages.SUCCESS if not counts["failed"] else messages.WARNING,
        )

    @admin.display(description=_("email"))
    def email_preview(self, obj):
        """The email as its template renders it now, from the stored order snapshot."""
        if obj is None or obj.pk is None:
            return "-"
        try:
            rendered = render_message(obj)
        except TemplateRenderError as exc:
            return format_html('<p class="errornote">{}</p>', exc)
        return format_html(
            "<p><strong>{}</strong><br>{}</p>"
            '<iframe sandbox srcdoc="{}" style="width:100%;max-width:680px;height:900px;'
            'border:1px solid #ccc;background:#fff"></iframe>'
            "<details><summary>{}</summary><pre>{}</pre></details>",
            rendered.subject,
            rendered.preheader,
            rendered.html,
            _("Plain-text part"),
            rendered.text,
        )
