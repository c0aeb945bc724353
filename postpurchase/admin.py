"""Admin: flows with their steps, email templates, and what the engine did.

Step kinds appear in the flow editor automatically: every concrete Step subclass gets
an inline child built for it, so a shop's own step needs no admin code.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from polymorphic.admin import PolymorphicInlineSupportMixin, StackedPolymorphicInline

from . import engine
from .delivery import render_message
from .exceptions import TemplateRenderError
from .models import Contact, EmailContent, EmailTemplate, Enrollment, Event, Flow, Message, Step


def step_models() -> list[type[Step]]:
    """Every concrete Step subclass of every installed app."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, Step) and m is not Step and not m._meta.abstract
    ]


class StepInline(StackedPolymorphicInline):
    model = Step
    extra = 0
    ordering = ["position", "id"]

    def get_child_inlines(self):
        return [
            type(
                f"{model.__name__}Inline",
                (StackedPolymorphicInline.Child,),
                {"model": model, "exclude": ["polymorphic_ctype"]},
            )
            for model in step_models()
        ]


@admin.register(Flow)
class FlowAdmin(PolymorphicInlineSupportMixin, admin.ModelAdmin):
    list_display = ["name", "trigger", "status", "reentry", "updated_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "slug", "trigger"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StepInline]


class EmailContentInline(admin.StackedInline):
    model = EmailContent
    extra = 0


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "languages", "updated_at"]
    search_fields = ["name", "slug"]
    inlines = [EmailContentInline]

    @admin.display(description=_("languages"))
    def languages(self, obj):
        return ", ".join(sorted(obj.contents.values_list("language", flat=True)))


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "locale", "unsubscribed_at", "created_at"]
    list_filter = ["locale", ("unsubscribed_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "first_name", "last_name"]
    raw_id_fields = ["user"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "contact", "ref", "occurred_at"]
    list_filter = ["name", "occurred_at"]
    search_fields = ["contact__email", "ref", "order_ref"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    actions = ["retry_selected", "exit_selected"]
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


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "subject", "category", "status", "language", "sent_at", "attempts"]
    list_filter = ["status", "category", "enrollment__flow", "sent_at"]
    search_fields = ["to_email", "subject", "esp_message_id"]
    raw_id_fields = ["enrollment", "step", "contact"]
    date_hierarchy = "created_at"
    readonly_fields = ["email_preview"]

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
