"""Admin: the flow editor (flows with their steps, diagram, preview, go live).

Step kinds appear in the flow editor automatically: every concrete Step subclass gets
an inline child built for it, so a shop's own step needs no admin code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from polymorphic.admin import (
    PolymorphicInlineAdminFormSet,
    PolymorphicInlineSupportMixin,
    StackedPolymorphicInline,
)
from polymorphic.formsets import BasePolymorphicModelFormSet

from postpurchase import recipes
from postpurchase.admin.analytics import analytics_csv, analytics_view, figure_lines
from postpurchase.admin.orders import may_see_orders
from postpurchase.analytics.reports import default_range, step_figures
from postpurchase.email.previews import preview_step, send_test
from postpurchase.exceptions import FlowDefinitionError, TemplateRenderError
from postpurchase.flows.diagram import flow_diagram
from postpurchase.flows.event_names import event_choices
from postpurchase.flows.event_names import label as event_label
from postpurchase.flows.operations import duplicate_flow
from postpurchase.flows.validation import flow_warnings, launch, pause, validate_flow
from postpurchase.models import (
    DelayStep,
    EmailStep,
    Flow,
    Step,
)

BLANK = [("", "---------")]


def _events(request) -> list:
    """The event choices, read once per request (every delay form offers them too)."""
    cache = request.__dict__.setdefault("_postpurchase_choices", {})
    if "events" not in cache:
        cache["events"] = event_choices()
    return cache["events"]


class WeekdaysField(forms.MultipleChoiceField):
    """Checkboxes Mon-Sun for the "0123456" string a delay stores (Monday = 0)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": _("Pick at least one weekday.")})
        super().__init__(choices=[(str(d), WEEKDAYS_ABBR[d]) for d in range(7)], **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return list(value) if isinstance(value, str) else value

    def clean(self, value: Any) -> str:
        return "".join(sorted(super().clean(value)))


class PositionField(forms.IntegerField):
    """A step's position: empty (or 0) puts a new step after the others."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value in (0, "0") else value

    def clean(self, value: Any) -> int:
        return super().clean(value) or 0


def offered_values(choices: Iterable[Any]) -> set[str]:
    """The values a choice field offers, its optgroups (label, [(value, label), ...])
    flattened."""
    offered = set()
    for value, label in choices:
        if isinstance(label, list | tuple):
            offered.update(str(v) for v, _label in label)
        else:
            offered.add(str(value))
    return offered


def keep_stored(field: forms.Field | None, values: Iterable[str]) -> None:
    """Offer the event names an object already holds even when the list no longer has
    them (never declared, their events purged), so saving the page keeps them."""
    if field is None:
        return
    offered = offered_values(field.choices)
    missing = [v for v in values if v and str(v) not in offered]
    if missing:
        field.choices = [*field.choices, (_("Stored on this flow"), [(v, v) for v in missing])]


class FlowForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keep_stored(self.fields.get("trigger"), [self.instance.trigger])
        keep_stored(self.fields.get("exit_events"), self.instance.exit_events or [])
        keep_stored(self.fields.get("goal_event"), [self.instance.goal_event])

    def clean_exit_events(self) -> list[str]:
        return list(self.cleaned_data.get("exit_events") or [])


class StepForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keep_stored(self.fields.get("event_name"), [getattr(self.instance, "event_name", "")])


def step_models() -> list[type[Step]]:
    """Every concrete Step subclass of every installed app."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, Step) and m is not Step and not m._meta.abstract
    ]


class StepChildInline(StackedPolymorphicInline.Child):
    """What every step kind's form shares: the position, and a delay's choices."""

    form = StepForm

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "position" and db_field.model is Step:
            return PositionField(
                label=capfirst(db_field.verbose_name),
                required=False,
                min_value=0,
                help_text=_(
                    "Steps run in this order. Leave it empty to add the step after the "
                    "others; on saving, the steps are numbered 1, 2, 3 …"
                ),
            )
        if issubclass(db_field.model, DelayStep) and db_field.name == "event_name":
            return forms.ChoiceField(
                label=capfirst(db_field.verbose_name),
                required=False,
                choices=BLANK + _events(request),
                help_text=_(
                    'With "counted from another event": the event to wait for. It must be '
                    "the same contact's, about the same order if both have one, and happen "
                    "after the enrollment started."
                ),
            )
        if issubclass(db_field.model, DelayStep) and db_field.name == "weekdays":
            return WeekdaysField(
                label=capfirst(db_field.verbose_name),
                initial=db_field.default,
                help_text=_("In the contact's time zone."),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class LabelledInlineAdminFormSet(PolymorphicInlineAdminFormSet):
    """The "add a step" menu shows each kind capitalised ("Delay", "Notify staff")."""

    def inline_formset_data(self) -> str:
        data = json.loads(super().inline_formset_data())
        labels = {m._meta.model_name: m._meta.verbose_name for m in self.formset.child_forms}
        for child in data["options"]["childTypes"]:
            child["name"] = str(capfirst(labels[child["type"]]))
        return json.dumps(data)


def _move_buttons(self, obj):
    """Up/down buttons (static/postpurchase/admin/step_order.js moves the form and
    renumbers the positions; saving keeps the order)."""
    return format_html(
        '<button type="button" class="button" data-pp-move="up" title="{}">↑ {}</button> '
        '<button type="button" class="button" data-pp-move="down" title="{}">↓ {}</button>',
        _("Move this step up"),
        _("Up"),
        _("Move this step down"),
        _("Down"),
    )


_move_buttons.short_description = _("order")


class StepInline(StackedPolymorphicInline):
    model = Step
    extra = 0
    ordering = ["position", "id"]

    class Media:
        js = ["postpurchase/admin/step_order.js"]

    def get_child_inlines(self):
        return [
            type(
                f"{model.__name__}Inline",
                (StepChildInline,),
                {
                    "model": model,
                    "exclude": ["polymorphic_ctype"],
                    "formfield_for_foreignkey": _same_flow_steps_only,
                    "move_buttons": _move_buttons,
                    "readonly_fields": ["move_buttons"]
                    + (["preview_link"] if issubclass(model, EmailStep) else []),
                    **({"preview_link": _preview_link} if issubclass(model, EmailStep) else {}),
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


class TriggerFilter(admin.SimpleListFilter):
    """The flows' triggers by their labels, not their internal names."""

    title = _("trigger event")
    parameter_name = "trigger"

    def lookups(self, request, model_admin):
        names = Flow.objects.order_by().values_list("trigger", flat=True).distinct()
        return sorted(((name, event_label(name)) for name in names if name), key=lambda c: c[1])

    def queryset(self, request, queryset):
        return queryset.filter(trigger=self.value()) if self.value() else queryset


@admin.register(Flow)
class FlowAdmin(PolymorphicInlineSupportMixin, admin.ModelAdmin):
    form = FlowForm
    list_display = ["name", "trigger_label", "status", "reentry", "updated_at", "analytics_link"]
    list_filter = ["status", TriggerFilter]
    search_fields = ["name", "slug", "trigger"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StepInline]
    actions = ["go_live", "pause_selected", "duplicate_selected"]
    change_list_template = "admin/postpurchase/flow/change_list.html"
    change_form_template = "admin/postpurchase/flow/change_form.html"
    readonly_fields = ["diagram"]

    @admin.display(description=_("analytics"))
    def analytics_link(self, obj: Flow) -> str:
        url = reverse("admin:postpurchase_flow_analytics", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Figures"))

    @admin.display(description=_("trigger event"), ordering="trigger")
    def trigger_label(self, obj: Flow) -> str:
        return event_label(obj.trigger)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Events are picked from those the app knows, never typed (a typo would go
        live and enroll no one)."""
        if db_field.name == "trigger":
            return forms.ChoiceField(
                label=capfirst(db_field.verbose_name),
                choices=BLANK + _events(request),
                help_text=_(
                    "The event that enrolls a contact. To offer another event the shop "
                    'sends with track(), declare it in POSTPURCHASE["CUSTOM_EVENTS"].'
                ),
            )
        if db_field.name == "goal_event":
            return forms.ChoiceField(
                label=capfirst(db_field.verbose_name),
                required=False,
                choices=BLANK + _events(request),
                help_text=db_field.help_text,
            )
        if db_field.name == "exit_events":
            return forms.MultipleChoiceField(
                label=capfirst(db_field.verbose_name),
                required=False,
                choices=_events(request),
                widget=forms.CheckboxSelectMultiple,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        inline_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        for inline_formset in inline_formsets:
            if isinstance(inline_formset.formset, BasePolymorphicModelFormSet):
                inline_formset.__class__ = LabelledInlineAdminFormSet
        return inline_formsets

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        # After a refused go-live the flow is saved but not live: Django's green "was
        # changed successfully" would contradict the red refusal.
        if level == messages.SUCCESS and getattr(request, "_postpurchase_refused", False):
            return
        super().message_user(request, message, level, *args, **kwargs)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Step or issubclass(formset.model, Step):
            renumber_steps(form.instance, formset)

    @admin.display(description=_("diagram"))
    def diagram(self, obj):
        """Steps, branches and per-step counts (waiting, sent, stopped here), and what
        each step's emails of the last 30 days did."""
        if obj is None or obj.pk is None:
            return _("Save the flow to see its diagram.")
        diagram = flow_diagram(obj)
        # The emails of the last 30 days, as the analytics page opens (its figures
        # stay bounded however long the flow has run).
        figures = step_figures(obj, *default_range())
        for node in diagram.nodes:
            if node.step.pk in figures and figures[node.step.pk].sent:
                node.figures = figure_lines(figures[node.step.pk])
        context = {
            "diagram": diagram,
            "analytics_url": reverse("admin:postpurchase_flow_analytics", args=[obj.pk]),
        }
        return render_to_string("admin/postpurchase/flow/diagram.html", context)

    def get_urls(self):
        urls = [
            path(
                "recipes/",
                self.admin_site.admin_view(self.recipes_view),
                name="postpurchase_flow_recipes",
            ),
            path(
                "<int:object_id>/analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="postpurchase_flow_analytics",
            ),
            path(
                "<int:object_id>/analytics/csv/",
                self.admin_site.admin_view(self.analytics_csv),
                name="postpurchase_flow_analytics_csv",
            ),
            path(
                "step/<int:step_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="postpurchase_flow_preview",
            ),
        ]
        return urls + super().get_urls()

    def analytics_view(self, request, object_id):
        """Figures per step and a chart over time, for a date range (view permission)."""
        return analytics_view(self, request, object_id)

    def analytics_csv(self, request, object_id):
        return analytics_csv(self, request, object_id)

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
            # Translated here, not with {% translate %} in the template: that looks up
            # "15%%" for a "15%" in the text and finds no translation.
            "recipes": [
                {
                    **recipe,
                    "name": gettext(recipe["name"]),
                    "description": gettext(recipe["description"]),
                    "trigger_label": event_label(recipe["trigger"]),
                    "installed": recipe["slug"] in installed,
                }
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
                    send_test(
                        step, request.user.email, language, real_order=may_see_orders(request)
                    )
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
            rendered = preview_step(step, language, real_order=may_see_orders(request))
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
                request._postpurchase_refused = True
                self._report(request, flow, problems, saved=True)
            elif not change or form.initial.get("status") != Flow.Status.LIVE:
                self._warn(request, flow)

    def _report(self, request, flow, problems, saved=False):
        if saved:
            intro = _("“%(name)s” was saved, but cannot go live (it stays %(status)s):") % {
                "name": flow.name,
                "status": flow.get_status_display().lower(),
            }
        else:
            intro = _("“%(name)s” cannot go live:") % {"name": flow.name}
        self.message_user(
            request,
            format_html(
                "{}{}",
                intro,
                format_html_join("", "<br>• {}", ((str(p),) for p in problems)),
            ),
            messages.ERROR,
        )

    def _warn(self, request, flow):
        for warning in flow_warnings(flow):
            self.message_user(
                request, format_html("“{}”: {}", flow.name, warning), messages.WARNING
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
                self._warn(request, flow)
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


def renumber_steps(flow: Flow, formset) -> None:
    """Number the flow's steps 1..n in the order the editor asked for.

    A new step left at 0 (or empty) goes after the others, in the order it was added. A
    step moved to a taken position goes before the step there when it moved up, after
    it when it moved down, so typing "1" in the third step makes it the first.
    """
    bias: dict[int, int] = {}
    end: set[int] = set()
    for step in formset.new_objects:
        if step.position:
            bias[step.pk] = -1
        else:
            end.add(step.pk)
    for form in formset.initial_forms:
        step, old = form.instance, form.initial.get("position")
        if step.pk is None or old is None or form in formset.deleted_forms:
            continue
        if step.position != old:
            bias[step.pk] = -1 if step.position < old else 1
    steps = list(
        Step.objects.non_polymorphic().filter(flow=flow).only("pk", "position").order_by("pk")
    )
    steps.sort(key=lambda s: (s.pk in end, s.position, bias.get(s.pk, 0), s.pk))
    for number, step in enumerate(steps, start=1):
        if step.position != number:
            Step.objects.filter(pk=step.pk).update(position=number)
