"""Admin: email templates with their per-language contents, and the block editor.

A template's page lists its languages; each language's page (an EmailContent) is the
editor: subject, preheader, the ordered blocks (or raw MJML for developers), the
variables menu and a live preview beside the form. Saving renders the content first,
so nothing that cannot render is ever stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postpurchase import recipes
from postpurchase.admin.orders import may_see_orders
from postpurchase.conf import languages
from postpurchase.email.blocks import (
    BLOCK_TYPES,
    LINK_CHOICES,
    BlockError,
    block_choices,
    compile_blocks,
    copy_to_language,
    plain_text_template,
)
from postpurchase.email.previews import (
    preview_content,
    recent_orders,
    variable_samples,
)
from postpurchase.exceptions import FlowDefinitionError, TemplateRenderError
from postpurchase.models import EmailBlock, EmailContent, EmailTemplate, Event

BLOCKS = EmailContent.BLOCKS


def language_choices() -> list[tuple[str, str]]:
    choices = []
    for code in languages():
        try:
            name = get_language_info(code)["name_translated"]
        except KeyError:
            name = code
        choices.append((code, f"{name} ({code})"))
    return choices


def _block_label(block: EmailBlock, number: int) -> str:
    block_type = BLOCK_TYPES.get(block.kind)
    name = block_type.label if block_type else block.kind
    return _("Block %(number)s (%(type)s)") % {"number": number, "type": name}


class EmailContentForm(forms.ModelForm):
    """One language of a template. With the block editor, subject and preheader take
    variables from the menu only; with MJML the body must render."""

    # The standalone editor checks the blocks in its formset, with the subject.
    blocks_checked_by_formset = False

    class Meta:
        model = EmailContent
        fields = ["template", "language", "editor", "subject", "preheader", "body"]
        widgets = {
            "subject": forms.TextInput(attrs={"class": "vLargeTextField pp-variable-target"}),
            "preheader": forms.TextInput(attrs={"class": "vLargeTextField pp-variable-target"}),
            "body": forms.Textarea(attrs={"rows": 20, "class": "vLargeTextField"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "language" in self.fields:
            choices = language_choices()
            current = self.instance.language
            if current and current not in dict(choices):
                choices.append((current, current))  # content in a language no longer listed
            self.fields["language"] = forms.ChoiceField(
                label=capfirst(_("language")), choices=choices
            )
        if not self.instance.pk:
            self.initial.setdefault("editor", BLOCKS)  # marketers start from blocks
        if self.instance.pk and self.instance.editor == BLOCKS and "body" in self.fields:
            # Built from the blocks: shown, never typed over by accident.
            self.fields["body"].disabled = True

    def clean(self):
        data = super().clean()
        editor = data.get("editor") or self.instance.editor
        if editor == BLOCKS:
            for name in ("subject", "preheader"):
                try:
                    plain_text_template(data.get(name) or "", name)
                except BlockError as exc:
                    self.add_error(name, str(exc))
        if self.errors or (editor == BLOCKS and self.blocks_checked_by_formset):
            return data
        content = self.instance
        for name in ("template", "language", "editor", "subject", "preheader", "body"):
            if name in data:
                setattr(content, name, data[name])
        blocks = list(content.blocks.all()) if editor == BLOCKS and content.pk else []
        if editor == BLOCKS:
            # Saved from the template's page: the body follows the saved blocks.
            data["body"] = content.body = compile_blocks(blocks)
        try:
            preview_content(content, blocks if editor == BLOCKS else None)
        except (TemplateRenderError, BlockError) as exc:
            raise ValidationError(
                _("This email cannot be shown to customers: %(error)s"), params={"error": exc}
            ) from exc
        return data


class EmailContentInline(admin.StackedInline):
    model = EmailContent
    form = EmailContentForm
    extra = 0
    fields = ["language", "editor", "subject", "preheader", "body", "editor_link"]
    readonly_fields = ["editor_link"]

    @admin.display(description=_("block editor and preview"))
    def editor_link(self, obj):
        if not obj.pk:
            return _("Save first, then open the editor.")
        url = reverse("admin:postpurchase_emailcontent_change", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Open the editor"))


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "languages", "updated_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
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

    def response_add(self, request, obj, post_url_continue=None):
        # A new template goes on to its first language's block editor.
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            first = obj.contents.order_by("id").first()
            if first is not None:
                return HttpResponseRedirect(
                    reverse("admin:postpurchase_emailcontent_change", args=[first.pk])
                )
            url = reverse("admin:postpurchase_emailcontent_add")
            return HttpResponseRedirect(
                f"{url}?template={obj.pk}&language={languages()[0]}&editor={BLOCKS}"
            )
        return super().response_add(request, obj, post_url_continue)


class EmailBlockForm(forms.ModelForm):
    kind = forms.ChoiceField(label=capfirst(_("block type")), choices=block_choices)
    link = forms.ChoiceField(
        label=capfirst(_("link to")), choices=[("", "---------"), *LINK_CHOICES], required=False
    )
    position = forms.IntegerField(
        label=capfirst(_("position")),
        min_value=0,
        required=False,
        widget=forms.NumberInput(attrs={"class": "pp-position", "style": "width: 5em"}),
    )

    class Meta:
        model = EmailBlock
        fields = ["position", "kind", "text", "label", "link", "url", "alt", "size"]
        widgets = {
            "text": forms.Textarea(
                attrs={"rows": 3, "class": "vLargeTextField pp-variable-target"}
            ),
            "label": forms.TextInput(attrs={"class": "vTextField pp-variable-target"}),
            "url": forms.TextInput(attrs={"class": "vLargeTextField", "placeholder": "https://"}),
            "alt": forms.TextInput(attrs={"class": "vLargeTextField"}),
        }


class EmailBlockFormSet(forms.BaseInlineFormSet):
    """Checks the blocks together with the content they belong to: each block compiles
    (a refused value is put on its field) and the whole email renders."""

    def blocks(self) -> list[EmailBlock]:
        found = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            block = form.instance
            for name, value in form.cleaned_data.items():
                if name in EmailBlockForm.Meta.fields:
                    setattr(block, name, value)
            block._form = form
            found.append(block)
        return found

    def clean(self):
        super().clean()
        content = self.instance
        if any(form.errors for form in self.forms):
            return
        blocks = self.blocks()
        # A block given no position goes after the others.
        highest = max((b.position or 0 for b in blocks), default=0)
        for block in blocks:
            if block.position is None:
                highest += 1
                block.position = block._form.cleaned_data["position"] = highest
        if content.editor != BLOCKS:
            return
        try:
            preview_content(content, blocks)
        except BlockError as exc:
            block = getattr(exc, "block", None)
            form = getattr(block, "_form", None)
            if form is not None and exc.field in form.fields:
                form.add_error(exc.field, str(exc))
                raise ValidationError(
                    _("%(block)s: %(error)s"),
                    params={"block": _block_label(block, blocks.index(block) + 1), "error": exc},
                ) from exc
            raise ValidationError(str(exc)) from exc
        except TemplateRenderError as exc:
            raise ValidationError(
                _("This email cannot be shown to customers: %(error)s"), params={"error": exc}
            ) from exc


class EmailBlockInline(admin.StackedInline):
    model = EmailBlock
    form = EmailBlockForm
    formset = EmailBlockFormSet
    extra = 0
    classes = ["pp-blocks"]
    fields = ["position", "kind", "text", "label", "link", "url", "alt", "size"]


@admin.register(EmailContent)
class EmailContentAdmin(admin.ModelAdmin):
    """The editor of one language of a template (opened from the template's page)."""

    form = EmailContentForm
    inlines = [EmailBlockInline]
    change_form_template = "admin/postpurchase/emailcontent/change_form.html"
    list_display = ["template", "language", "editor", "subject"]
    fieldsets = [
        (None, {"fields": ["template", "language", "editor", "subject", "preheader"]}),
        (
            _("MJML (for developers)"),
            {"fields": ["body"], "classes": ["pp-mjml"]},
        ),
    ]

    class Media:
        js = ["postpurchase/frame.js", "postpurchase/blocks.js"]
        css = {"all": ["postpurchase/blocks.css"]}

    def get_model_perms(self, request):
        # Reached from the template's page, not listed on the admin's index.
        return {}

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.blocks_checked_by_formset = True
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("editor", BLOCKS)
        return initial

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        content = form.instance
        if content.editor == BLOCKS:
            content.body = compile_blocks(content.blocks.all())
            content.save(update_fields=["body", "updated_at"])

    def response_post_save_change(self, request, obj):
        return HttpResponseRedirect(
            reverse("admin:postpurchase_emailtemplate_change", args=[obj.template_id])
        )

    response_post_save_add = response_post_save_change

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(require_POST(self.preview_view)),
                name="postpurchase_emailcontent_preview",
            ),
            path(
                "<int:object_id>/copy/",
                self.admin_site.admin_view(require_POST(self.copy_view)),
                name="postpurchase_emailcontent_copy",
            ),
            path(
                "<int:object_id>/open-as-blocks/",
                self.admin_site.admin_view(require_POST(self.open_as_blocks_view)),
                name="postpurchase_emailcontent_open_as_blocks",
            ),
        ] + super().get_urls()

    def copy_view(self, request, object_id):
        """Copy this language's content, blocks and all, to another language to translate."""
        content = self.get_object(request, str(object_id))
        if content is None or not self.has_add_permission(request):
            raise PermissionDenied
        language = request.POST.get("language", "")
        if language not in dict(language_choices()):
            raise PermissionDenied
        try:
            copy = copy_to_language(content, language)
        except BlockError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:postpurchase_emailcontent_change", args=[content.pk])
            )
        self.log_addition(request, copy, [{"added": {}}])
        self.message_user(
            request,
            _("Copied from %(source)s: translate the texts, then save.")
            % {"source": content.language},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:postpurchase_emailcontent_change", args=[copy.pk])
        )

    def open_as_blocks_view(self, request, object_id):
        """Switch a recipe email to the block version it ships (logged in its history)."""
        content = self.get_object(request, str(object_id))
        if content is None or not self.has_change_permission(request, content):
            raise PermissionDenied
        try:
            recipes.open_as_blocks(content)
        except (FlowDefinitionError, BlockError, TemplateRenderError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.log_change(request, content, [{"changed": {"fields": ["editor"]}}])
            self.message_user(
                request, _("This email is now made of blocks; edit and save it."), messages.SUCCESS
            )
        return HttpResponseRedirect(
            reverse("admin:postpurchase_emailcontent_change", args=[content.pk])
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        language = (obj.language if obj else request.GET.get("language")) or languages()[0]
        siblings = []
        if obj is not None:
            siblings = [
                (c.language, reverse("admin:postpurchase_emailcontent_change", args=[c.pk]))
                for c in obj.template.contents.order_by("language")
            ]
        context.update(
            {
                "pp_preview_url": reverse("admin:postpurchase_emailcontent_preview"),
                "pp_variables": variable_samples(language),
                "pp_block_types": {
                    kind: {"fields": list(t.fields), "help": str(t.help)}
                    for kind, t in BLOCK_TYPES.items()
                },
                "pp_orders": (
                    [(event.pk, _order_label(event)) for event in recent_orders()]
                    if may_see_orders(request)
                    else []
                ),
                "pp_siblings": siblings,
                "pp_language": language,
                "pp_copy_url": (
                    reverse("admin:postpurchase_emailcontent_copy", args=[obj.pk]) if obj else ""
                ),
                "pp_missing_languages": [
                    (code, name)
                    for code, name in language_choices()
                    if code not in {have for have, _url in siblings}
                ],
                "pp_open_as_blocks": (
                    reverse("admin:postpurchase_emailcontent_open_as_blocks", args=[obj.pk])
                    if obj is not None
                    and obj.editor != BLOCKS
                    and recipes.block_version(obj.template.slug, obj.language)
                    else ""
                ),
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request):
        """Render the posted, unsaved form: JSON with subject, preheader and HTML, or
        the error that would keep it from saving."""
        obj = None
        object_id = request.POST.get("pp_object_id")
        if object_id:
            obj = self.get_object(request, object_id)
            if obj is None:
                raise PermissionDenied
            allowed = self.has_change_permission(request, obj)
        else:
            allowed = self.has_add_permission(request)
        if not allowed:
            raise PermissionDenied
        form = self.get_form(request, obj)(request.POST, instance=obj)
        form.is_valid()
        content = form.instance
        for name in ("language", "editor", "subject", "preheader", "body", "template"):
            if name in getattr(form, "cleaned_data", {}):
                setattr(content, name, form.cleaned_data[name])
        errors = [
            f"{form.fields[name].label}: {' '.join(e)}"
            for name, e in form.errors.items()
            if name in form.fields
        ]
        formset = EmailBlockInline(self.model, self.admin_site).get_formset(request, obj)(
            request.POST, instance=content, prefix="blocks"
        )
        for block_form in formset.forms:
            block_form.is_valid()
        blocks = formset.blocks()
        snapshot = None
        order = request.POST.get("pp_order")
        if order and not may_see_orders(request):
            raise PermissionDenied
        if order:
            event = Event.objects.filter(pk=order).exclude(snapshot={}).first()
            snapshot = event.snapshot if event else None
        try:
            rendered = preview_content(content, blocks, snapshot)
        except BlockError as exc:
            block = getattr(exc, "block", None)
            where = _block_label(block, blocks.index(block) + 1) if block in blocks else ""
            return JsonResponse(
                {"error": f"{where}: {exc}" if where else str(exc), "errors": errors}
            )
        except TemplateRenderError as exc:
            return JsonResponse({"error": str(exc), "errors": errors})
        return JsonResponse(
            {
                "subject": rendered.subject,
                "preheader": rendered.preheader,
                "html": rendered.html,
                "errors": errors,
            }
        )


def _order_label(event: Event) -> str:
    number = (event.snapshot or {}).get("number") or event.order_ref or event.pk
    return _("Order #%(number)s") % {"number": number}
