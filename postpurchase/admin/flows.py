"""Admin: flows with their steps, email templates, and what the engine did.

Step kinds appear in the flow editor automatically: every concrete Step subclass gets
an inline child built for it, so a shop's own step needs no admin code.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from polymorphic.admin import PolymorphicInlineSupportMixin, StackedPolymorphicInline

from postpurchase import engine, recipes
from postpurchase.delivery import RESENDABLE, render_message, resend_messages
from postpurchase.email.previews import preview_step, send_test
from postpurchase.exceptions import FlowDefinitionError, TemplateRenderError
from postpurchase.flows.diagram import flow_diagram
from postpurchase.flows.operations import duplicate_flow
from postpurchase.flows.validation import launch, pause, validate_flow
from postpurchase.models import (
    Contact,
    EmailContent,
    EmailStep,
    EmailTemplate,
    Enrollment,
    Event,
    Flow,
    Message,
    Step,
    StepRecord,
)


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
                {
                    "model": model,
                    "exclude": ["polymorphic_ctype"],
                    "formfield_for_foreignkey": _same_flow_steps_only,
                    **(
                        {"readonly_fields": ["preview_link"], "preview_link": _preview_link}
                        if issubclass(model, EmailStep)
                        else {}
                    ),
                },
            )
            for model in step_models()
        ]


def _same_flow_steps_only(self, db_field, request, **kwargs):
    """Jump targets (FKs to steps) offer only the steps of the flow being edited.

    Every foreign key's choices are read once per request: left as a queryset, each
    step's form (and the empty one) would run its own query, so the editor's query
    count would grow with the number of steps.
    """
    if issubclass(db_field.related_model, Step):
        flow_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        steps = Step.objects.non_polymorphic().order_by("position", "id")
        kwargs["queryset"] = steps.filter(flow_id=flow_id) if flow_id else steps.none()
    formfield = super(type(self), self).formfield_for_foreignkey(db_field, request, **kwargs)
    queryset = getattr(formfield, "queryset", None)
    if queryset is not None:
        cache = request.__dict__.setdefault("_postpurchase_choices", {})
        try:
            sql = str(queryset.query)
        except EmptyResultSet:  # .none(): no flow yet, nothing to offer or to query
            sql = ""
        key = (queryset.model, sql, formfield.empty_label)
        if key not in cache:
            cache[key] = list(formfield.choices)
        formfield.choices = cache[key]
    return formfield


@admin.display(description=_("preview"))
def _preview_link(self, obj):
    if obj is None or obj.pk is None:
        return _("Save the flow to preview this email.")
    url = reverse("admin:postpurchase_flow_preview", args=[obj.pk])
    return format_html('<a href="{}" target="_blank">{}</a>', url, _("Preview and send a test"))


@admin.register(Flow)
class FlowAdmin(PolymorphicInlineSupportMixin, admin.ModelAdmin):
    list_display = ["name", "trigger", "status", "reentry", "updated_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "slug", "trigger"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StepInline]
    actions = ["go_live", "pause_selected", "duplicate_selected"]
    change_list_template = "admin/postpurchase/flow/change_list.html"
    readonly_fields = ["diagram"]

    @admin.display(description=_("diagram"))
    def diagram(self, obj):
        """Steps, branches and per-step counts (waiting, sent, stopped here)."""
        if obj is None or obj.pk is None:
            return _("Save the flow to see its diagram.")
        return render_to_string(
            "admin/postpurchase/flow/diagram.html", {"diagram": flow_diagram(obj)}
        )

    def get_urls(self):
        urls = [
            path(
                "recipes/",
                self.admin_site.admin_view(self.recipes_view),
                name="postpurchase_flow_recipes",
            ),
            path(
                "step/<int:step_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="postpurchase_flow_preview",
            ),
        ]
        return urls + super().get_urls()

    def recipes_view(self, request):
        """The recipe catalogue, each with an Install button (POST, needs add_flow)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            try:
                flow = recipes.install(request.POST.get("recipe", ""))
            except FlowDefinitionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect("admin:postpurchase_flow_recipes")
            self.message_user(
                request,
                _("Installed “%(name)s” as a draft: check it, then use “Go live”.")
                % {"name": flow.name},
                messages.SUCCESS,
            )
            return redirect("admin:postpurchase_flow_change", flow.pk)
        installed = set(Flow.objects.values_list("slug", flat=True))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ready-made flows"),
            "opts": self.model._meta,
            "recipes": [
                {**recipe, "installed": recipe["slug"] in installed}
                for recipe in recipes.available()
            ],
            "can_add": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/postpurchase/flow/recipes.html", context)

    def preview_view(self, request, step_id):
        """An email step as the customer sees it: any language, desktop or mobile width,
        subject and text part; POST sends a test to the staff user (change permission)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        step = get_object_or_404(EmailStep, pk=step_id)
        languages = sorted(step.template.contents.values_list("language", flat=True))
        language = request.GET.get("language") or request.POST.get("language")
        if language not in languages:
            language = languages[0] if languages else None
        width = "mobile" if request.GET.get("width") == "mobile" else "desktop"
        if request.method == "POST":
            if not self.has_change_permission(request, step.flow):
                raise PermissionDenied
            if not request.user.email:
                self.message_user(request, _("Your user has no email address."), messages.ERROR)
            else:
                try:
                    send_test(step, request.user.email, language)
                except Exception as exc:  # shown to staff, who can fix and retry
                    self.message_user(request, _("Not sent: %(e)s") % {"e": exc}, messages.ERROR)
                else:
                    self.message_user(
                        request, _("Test sent to %(to)s.") % {"to": request.user.email}
                    )
                    # Tests write no Message (they must not count): the flow's history
                    # (and "Recent actions") is where staff find who sent which test.
                    self.log_change(
                        request,
                        step.flow,
                        _("Sent a test of the email step “%(step)s” (%(language)s).")
                        % {"step": step, "language": language},
                    )
            return redirect(f"{request.path}?language={language}&width={width}")
        rendered = error = None
        try:
            rendered = preview_step(step, language)
        except TemplateRenderError as exc:
            error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview: %(step)s") % {"step": step},
            "opts": self.model._meta,
            "flow": step.flow,
            "step": step,
            "languages": languages,
            "language": language,
            "width": width,
            "frame_width": 375 if width == "mobile" else 680,
            "rendered": rendered,
            "error": error,
            "can_send": self.has_change_permission(request, step.flow),
        }
        return TemplateResponse(request, "admin/postpurchase/flow/preview.html", context)

    def save_related(self, request, form, formsets, change):
        """Steps are saved here, after the flow: only now can going live be checked."""
        super().save_related(request, form, formsets, change)
        flow = form.instance
        if flow.status == Flow.Status.LIVE:
            problems = validate_flow(flow)
            if problems:
                previous = form.initial.get("status") if change else Flow.Status.DRAFT
                if previous == Flow.Status.LIVE:
                    previous = Flow.Status.PAUSED
                Flow.objects.filter(pk=flow.pk).update(status=previous or Flow.Status.DRAFT)
                flow.status = previous or Flow.Status.DRAFT
                self._report(request, flow, problems)

    def _report(self, request, flow, problems):
        self.message_user(
            request,
            format_html(
                "{}{}",
                _("“%(name)s” cannot go live:") % {"name": flow.name},
                format_html_join("", "<br>• {}", ((str(p),) for p in problems)),
            ),
            messages.ERROR,
        )

    @admin.action(description=_("Go live (after checking the flow)"), permissions=["change"])
    def go_live(self, request, queryset):
        launched = 0
        for flow in queryset:
            problems = launch(flow)
            if problems:
                self._report(request, flow, problems)
            else:
                launched += 1
        if launched:
            self.message_user(request, _("%(n)d flow(s) are live.") % {"n": launched})

    @admin.action(description=_("Pause (enrollments wait)"), permissions=["change"])
    def pause_selected(self, request, queryset):
        for flow in queryset:
            pause(flow)
        self.message_user(request, _("Paused. Going live again resumes the waiting enrollments."))

    @admin.action(description=_("Duplicate as a draft"), permissions=["add"])
    def duplicate_selected(self, request, queryset):
        for flow in queryset:
            duplicate_flow(flow)
        self.message_user(request, _("%(n)d flow(s) duplicated.") % {"n": queryset.count()})


class EmailContentInline(admin.StackedInline):
    model = EmailContent
    extra = 0


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "languages", "updated_at"]
    search_fields = ["name", "slug"]
    inlines = [EmailContentInline]

    def get_queryset(self, request):
        # The languages column reads every template's contents: one query, not one a row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "contents", queryset=EmailContent.objects.only("id", "template", "language")
                )
            )
        )

    @admin.display(description=_("languages"))
    def languages(self, obj):
        return ", ".join(sorted(c.language for c in obj.contents.all()))


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
    list_display = [
        "to_email",
        "subject",
        "category",
        "status",
        "language",
        "sent_at",
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
