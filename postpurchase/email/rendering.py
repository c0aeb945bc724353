"""Rendering an email: Django template -> MJML -> HTML (mjml-python), plus a text part.

Templates run in the app's own template engine with autoescaping on, so values from
the order and the customer are escaped data, never template source. Subjects and
preheaders render with autoescaping off (they are plain text) and are folded to one
line, so no value can inject a header.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from threading import Lock
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation
from mjml import mjml2html

from postpurchase.conf import get_setting, languages
from postpurchase.email.blocks import BlockError, plain_text_template
from postpurchase.email.text import html_to_text
from postpurchase.exceptions import AdapterCallError, TemplateRenderError

BUILTINS = [
    "django.templatetags.i18n",
    "django.templatetags.l10n",
    "postpurchase.templatetags.postpurchase_email",
    "postpurchase.templatetags.postpurchase_nps",
]


@dataclass(frozen=True)
class RenderedEmail:
    language: str
    subject: str
    preheader: str
    html: str
    text: str


@lru_cache(maxsize=4)
def get_engine(autoescape: bool = True, debug: bool = False) -> Engine:
    """The email template engine: app template folders (so a shop may override
    ``postpurchase/email/base.mjml`` in its own app) plus the email filters."""
    from django.conf import settings

    dirs = []
    for backend in getattr(settings, "TEMPLATES", []):
        dirs.extend(backend.get("DIRS", []))
    return Engine(dirs=dirs, app_dirs=True, autoescape=autoescape, builtins=BUILTINS, debug=debug)


def locate_error(source: str, context: dict[str, Any] | None, autoescape: bool = True):
    """The line of ``source`` at fault, found again with a debug engine (which records
    positions, at a cost we pay only once something has failed)."""
    engine = get_engine(autoescape=autoescape, debug=True)
    try:
        template = engine.from_string(source)
        if context is not None:
            template.render(Context(context))
    except Exception as exc:
        info = getattr(exc, "template_debug", None)
        if info:
            name = info.get("name") or ""
            # An error inside an included or extended file names that file.
            return info["line"] if name in ("", "<unknown source>") else f"{info['line']} of {name}"
    return None


class _CompiledCache:
    """Compiled templates keyed by (source identity, version), bounded."""

    def __init__(self, size: int = 256):
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = Lock()

    def get(self, key, build):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = build()
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_compiled = _CompiledCache()


def base_language(code: str | None) -> str:
    if not isinstance(code, str):
        return ""  # bad data (a number in an order snapshot): use the fallback language
    return code.replace("_", "-").split("-")[0].lower()


def pick_language(wanted: str | None, available: list[str]) -> str:
    """The contact's language if content exists in it, else the first configured
    language that has content, else whatever exists."""
    if not available:
        raise TemplateRenderError("This email template has no content in any language.")
    lang = base_language(wanted)
    if lang in available:
        return lang
    for fallback in languages():
        if fallback in available:
            return fallback
    return sorted(available)[0]


def compile_content(content) -> tuple[Any, Any, Any]:
    """Compile subject, preheader and body of an EmailContent (cached per version)."""
    editor = getattr(content, "editor", "mjml")
    key = (
        content.pk,
        content.updated_at,
        editor,
        content.subject,
        content.preheader,
        hash(content.body),
    )

    def build():
        where = f"{content.template.slug if content.template_id else '?'} [{content.language}]"
        text_engine = get_engine(autoescape=False)
        try:
            subject = text_engine.from_string(_text_source(content.subject, editor, "subject"))
        except (TemplateSyntaxError, BlockError) as exc:
            raise _error(exc, f"subject of {where}", content.language) from exc
        try:
            preheader = text_engine.from_string(
                _text_source(content.preheader or "", editor, "preheader")
            )
        except (TemplateSyntaxError, BlockError) as exc:
            raise _error(exc, f"preheader of {where}", content.language) from exc
        try:
            body = get_engine().from_string(content.body)
        except TemplateSyntaxError as exc:
            line = locate_error(content.body, None)
            raise _error(exc, f"body of {where}", content.language, line) from exc
        return subject, preheader, body

    if content.pk is None:
        return build()
    return _compiled.get(key, build)


def _text_source(value: str, editor: str, field_name: str) -> str:
    """A subject or preheader as template source: the block editor's take variables from
    the menu only (``{{ first_name }}``), the MJML editor's are Django templates."""
    return plain_text_template(value, field_name) if editor == "blocks" else value


def _error(exc: Exception, where: str, language: str, line=None) -> TemplateRenderError:
    info = getattr(exc, "template_debug", None)
    if info and line is None:
        line = info.get("line")
    suffix = f", line {line}" if line else ""
    return TemplateRenderError(
        f"Template error in {where}{suffix}: {exc}", template=where, language=language, line=line
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def render_content(content, context: dict[str, Any]) -> RenderedEmail:
    """Render one EmailContent with ``context``; raise TemplateRenderError on any error."""
    subject_t, preheader_t, body_t = compile_content(content)
    where = f"{content.template.slug if content.template_id else '?'} [{content.language}]"
    with translation.override(content.language):
        try:
            # Plain text: a Context autoescapes unless told otherwise, whatever the engine says.
            subject = one_line(subject_t.render(Context(context, autoescape=False)))[:300]
            preheader = one_line(preheader_t.render(Context(context, autoescape=False)))
        except AdapterCallError:
            raise  # the shop's adapter failed, not the template: retried by the caller
        except Exception as exc:
            raise _error(exc, f"subject of {where}", content.language) from exc
        body_context = {**context, "preheader": preheader}
        try:
            mjml_source = body_t.render(Context(body_context))
        except AdapterCallError:
            raise
        except Exception as exc:
            line = locate_error(content.body, body_context)
            raise _error(exc, f"body of {where}", content.language, line) from exc
    try:
        html = mjml2html(mjml_source, **get_setting("MJML_OPTIONS"))
    except ValueError as exc:
        raise TemplateRenderError(
            f"MJML error in body of {where}: {exc}", template=where, language=content.language
        ) from exc
    return RenderedEmail(
        language=content.language,
        subject=subject,
        preheader=preheader,
        html=html,
        text=html_to_text(mjml_source),
    )


def contents_of(template, cache: dict | None = None) -> dict[str, Any]:
    """{language: EmailContent} of a template, cached in ``cache`` (a batch's) if given."""
    key = ("contents", template.pk)
    if cache is not None and key in cache:
        return cache[key]
    found = {c.language: c for c in template.contents.select_related("template")}
    if cache is not None:
        cache[key] = found
    return found


def render_template(
    template, language: str | None, context: dict[str, Any], cache: dict | None = None
) -> RenderedEmail:
    """Render an EmailTemplate in the best language for ``language``."""
    contents = contents_of(template, cache)
    lang = pick_language(language, list(contents))
    return render_content(contents[lang], {**context, "language": lang})
