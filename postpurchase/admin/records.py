"""Admin: what happened: contacts, events, enrollments (retry, exit) and messages
(the rendered email, resend)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postpurchase import consent, engine
from postpurchase.admin.dataprotection import (
    ConsentInline,
    ConsentRecordInline,
    DataProtectionActions,
)
from postpurchase.admin.logs import LogAdmin, ReadOnlyInline
from postpurchase.admin.orders import order_cell, with_order_numbers
from postpurchase.admin.tracking import MessageEventInline
from postpurchase.dataprotection import suppression
from postpurchase.delivery import RESENDABLE, render_message, resend_messages
from postpurchase.exceptions import TemplateRenderError
from postpurchase.flows.event_names import label as event_label
from postpurchase.models import (
    ConsentSource,
    Contact,
    Enrollment,
    Event,
    Message,
    StepRecord,
)
from postpurchase.public.unsubscribe import resubscribe, unsubscribe

#: How Contact.suppression_reason values read (postpurchase.tracking writes them).
SUPPRESSION_REASONS = {
    "hard_bounce": _("Hard bounce reported by the ESP"),
    "invalid": _("Address rejected as invalid by the ESP"),
    "complaint": _("Spam complaint reported by the ESP"),
    "erased": _("Address of an erased contact"),
}


@admin.register(Contact)
class ContactAdmin(DataProtectionActions, admin.ModelAdmin):
    inlines = [ConsentInline, ConsentRecordInline]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "locale",
        "email_frequency",
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
    readonly_fields = ["event_history", "suppressed_at", "suppression"]

    #: How many of a contact's latest events its page lists (the rest are a link away).
    HISTORY_LENGTH = 20

    @admin.display(description=_("event history"))
    def event_history(self, obj):
        """The contact's latest events, newest first, and a link to all of them."""
        if obj is None or obj.pk is None:
            return "-"
        events = list(
            with_order_numbers(obj.events.order_by("-occurred_at", "-id"))[: self.HISTORY_LENGTH]
        )
        if not events:
            return gettext("No events yet.")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:postpurchase_event_change", args=[e.pk]),
                    event_label(e.name),
                    order_cell(e.order_ref, e.order_number) if e.order_ref else e.ref,
                    e.occurred_at.isoformat(sep=" ", timespec="minutes"),
                )
                for e in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}?contact__id__exact={}">{}</a></p>',
            gettext("event"),
            gettext("order"),
            gettext("occurred at"),
            rows,
            reverse("admin:postpurchase_event_changelist"),
            obj.pk,
            gettext("All events of this contact"),
        )

    # Set from the ESP's bounce and complaint reports (postpurchase.tracking).
    exclude = ["suppression_reason"]

    actions = ["lift_suppression", "export_contact_data", "erase_contacts", "lift_erasure"]

    def save_model(self, request, obj, form, change):
        """The frequency and the unsubscribe are the customer's choices: a change made
        here goes into the consent history (source: admin) like one made on the
        preference centre, never silently."""
        frequency, unsubscribed = obj.email_frequency, obj.unsubscribed_at
        before = Contact.objects.get(pk=obj.pk) if change else Contact()
        obj.email_frequency, obj.unsubscribed_at = before.email_frequency, before.unsubscribed_at
        super().save_model(request, obj, form, change)
        if frequency != obj.email_frequency:
            consent.set_frequency(obj, frequency, ConsentSource.ADMIN)
        if unsubscribed and not obj.unsubscribed_at:
            unsubscribe(obj, source="admin")
        elif obj.unsubscribed_at and not unsubscribed:
            resubscribe(obj, source="admin")

    @admin.action(
        description=_("Lift the suppression of the selected contacts"), permissions=["change"]
    )
    def lift_suppression(self, request, queryset):
        """Mail them again (e.g. the address was fixed); the ESP's events stay recorded,
        and the change is in each contact's history."""
        lifted = list(queryset.filter(suppressed_at__isnull=False))
        for contact in lifted:
            reason = contact.suppression_reason
            if reason == suppression.REASON:
                suppression.lift(contact)  # off the erased list too
            contact.suppressed_at, contact.suppression_reason = None, ""
            contact.save(update_fields=["suppressed_at", "suppression_reason", "updated_at"])
            self.log_change(
                request,
                contact,
                gettext("Suppression lifted (was: %(reason)s)") % {"reason": reason or "-"},
            )
        self.message_user(
            request, _("%(n)d contact(s) may receive email again.") % {"n": len(lifted)}
        )

    @admin.display(description=_("suppression reason"), ordering="suppression_reason")
    def suppression(self, obj):
        return SUPPRESSION_REASONS.get(obj.suppression_reason, obj.suppression_reason) or "-"


@admin.register(Event)
class EventAdmin(LogAdmin):
    actions = ["export_csv"]
    list_display = ["event_name", "contact", "order", "ref", "occurred_at"]
    list_filter = ["name", "occurred_at"]
    list_select_related = ["contact"]
    search_fields = ["contact__email", "ref", "order_ref"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"
    export_select_related = ["contact"]
    export_columns = [
        ("id", lambda e: e.pk),
        ("name", lambda e: e.name),
        ("contact_id", lambda e: e.contact_id),
        ("email", lambda e: e.contact.email),
        ("ref", lambda e: e.ref),
        ("order_ref", lambda e: e.order_ref),
        ("occurred_at", lambda e: e.occurred_at),
    ]

    def get_queryset(self, request):
        return with_order_numbers(super().get_queryset(request))

    @admin.display(description=_("event"), ordering="name")
    def event_name(self, obj):
        return event_label(obj.name)

    @admin.display(description=_("order"), ordering="order_ref")
    def order(self, obj):
        return order_cell(obj.order_ref, obj.order_number)


class StepRecordInline(ReadOnlyInline, admin.TabularInline):
    """What the steps with side effects did for the enrollment: a staff notification's
    recipients, subject and send time, a signal's action. Read-only."""

    model = StepRecord
    fields = ["step", "visit", "status", "attempts", "detail", "error", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Enrollment)
class EnrollmentAdmin(LogAdmin):
    actions = ["retry_selected", "exit_selected", "export_csv"]
    inlines = [StepRecordInline]
    list_display = [
        "contact",
        "flow",
        "order",
        "status",
        "step",
        "due_at",
        "triggered_at",
        "exit_reason",
    ]
    list_filter = ["flow", "status", "triggered_at"]
    search_fields = ["contact__email", "order_ref"]
    raw_id_fields = ["contact", "trigger_event", "step"]
    list_select_related = ["contact", "flow", "step"]
    date_hierarchy = "triggered_at"
    export_select_related = ["contact", "flow", "step"]
    export_columns = [
        ("id", lambda e: e.pk),
        ("flow", lambda e: e.flow.name),
        ("contact_id", lambda e: e.contact_id),
        ("email", lambda e: e.contact.email),
        ("order_ref", lambda e: e.order_ref),
        ("status", lambda e: e.status),
        ("step", lambda e: e.step_id),
        ("attempts", lambda e: e.attempts),
        ("triggered_at", lambda e: e.triggered_at),
        ("due_at", lambda e: e.due_at),
        ("finished_at", lambda e: e.finished_at),
        ("exit_reason", lambda e: e.exit_reason),
    ]

    def get_queryset(self, request):
        # The snapshot is the whole order: the list needs only its number.
        return with_order_numbers(super().get_queryset(request).defer("snapshot"))

    @admin.display(description=_("order"), ordering="order_ref")
    def order(self, obj):
        return order_cell(obj.order_ref, obj.order_number)

    @admin.action(
        description=_("Retry the selected failed or exited enrollments"), permissions=["change"]
    )
    def retry_selected(self, request, queryset):
        done = [e for e in queryset if engine.retry(e)]
        self.log_action_on(request, done, gettext("Retried by staff (admin action)."))
        self.message_user(request, _("%(n)d enrollment(s) will run again.") % {"n": len(done)})

    @admin.action(description=_("Exit the selected active enrollments"), permissions=["change"])
    def exit_selected(self, request, queryset):
        done = [e for e in queryset if engine.exit_enrollment(e, "exited by staff")]
        self.log_action_on(request, done, gettext("Exited by staff (admin action)."))
        self.message_user(request, _("%(n)d enrollment(s) exited.") % {"n": len(done)})


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


def _outcome(message: Message) -> tuple:
    """What a resend changes on a message."""
    return (message.status, message.attempted_at, message.error, message.attempts)


@admin.register(Message)
class MessageAdmin(LogAdmin):
    actions = ["resend_selected", "export_csv"]
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
        "deferred_until",
        "possible_duplicate_at",
    ]
    list_filter = [
        "status",
        PossibleDuplicateFilter,
        "category",
        "deferral_reason",
        "enrollment__flow",
        "sent_at",
    ]
    search_fields = ["to_email", "subject", "esp_message_id"]
    raw_id_fields = ["enrollment", "step", "contact"]
    date_hierarchy = "created_at"
    readonly_fields = ["email_preview"]
    export_select_related = ["enrollment__flow"]
    # What was sent to whom and what became of it; not the order snapshot.
    export_columns = [
        ("id", lambda m: m.pk),
        ("flow", lambda m: m.enrollment.flow.name),
        ("enrollment_id", lambda m: m.enrollment_id),
        ("contact_id", lambda m: m.contact_id),
        ("to_email", lambda m: m.to_email),
        ("language", lambda m: m.language),
        ("subject", lambda m: m.subject),
        ("category", lambda m: m.category),
        ("status", lambda m: m.status),
        ("esp_name", lambda m: m.esp_name),
        ("esp_message_id", lambda m: m.esp_message_id),
        ("attempts", lambda m: m.attempts),
        ("created_at", lambda m: m.created_at),
        ("sent_at", lambda m: m.sent_at),
        ("opened_at", lambda m: m.opened_at),
        ("clicked_at", lambda m: m.clicked_at),
        ("possible_duplicate_at", lambda m: m.possible_duplicate_at),
        ("wanted_at", lambda m: m.wanted_at),
        ("deferred_until", lambda m: m.deferred_until),
        ("deferral_reason", lambda m: m.deferral_reason),
        ("deferrals", lambda m: m.deferrals),
    ]

    @admin.action(
        description=_("Resend the selected failed messages (or those of unknown outcome)"),
        permissions=["change"],
    )
    def resend_selected(self, request, queryset):
        resendable = list(queryset.filter(status__in=RESENDABLE))
        counts = resend_messages(resendable)
        # Each one taken was changed (queued, then sent, failed again or suppressed); one
        # that another admin or the engine took first stays out of this history.
        after = Message.objects.in_bulk([m.pk for m in resendable])
        changed = [
            after[m.pk]
            for m in resendable
            if m.pk in after and _outcome(after[m.pk]) != _outcome(m)
        ]
        self.log_action_on(request, changed, gettext("Resent by staff (admin action)."))
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
