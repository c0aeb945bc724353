"""Emails from blocks: the block types, the variables menu, the small text markup, and
compiling a content's ordered blocks into MJML through the branded base layout.

A marketer never writes template syntax. What a block holds is data: its text is
HTML-escaped, every brace that is not a known ``{{ variable }}`` is turned into an HTML
entity (so no ``{% tag %}`` or ``<mj-...>`` can be injected), and the variables are
replaced by the template expressions they stand for. Only the block types' own
compile functions (written by developers, here or in a shop's app) emit MJML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from postpurchase.models import EmailBlock, EmailContent

BASE_LAYOUT = "postpurchase/email/base.mjml"
BLOCK_FIELDS = ("position", "kind", "text", "label", "link", "url", "alt", "size")


class BlockError(ValueError):
    """A block (or subject) the editor refuses; ``field`` names the form field."""

    def __init__(self, message: str, field: str = "text"):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------------------
# Variables


@dataclass(frozen=True)
class Variable:
    name: str
    label: str | Promise
    expression: str  # a Django template expression over the email context
    is_url: bool = False
    fallback: str = ""  # shown when the value is empty: {{ first_name|default:"friend" }}

    def source(self, for_html: bool = True) -> str:
        """The template expression, with the fallback as a string literal (checked to
        hold no quote, backslash or brace; escaped here, as literals are not)."""
        if not self.fallback:
            return self.expression
        text = html.escape(self.fallback, quote=False) if for_html else self.fallback
        return f'{self.expression}|default:"{text}"'


VARIABLES: dict[str, Variable] = {}


def register_variable(
    name: str, label: str | Promise, expression: str, is_url: bool = False
) -> None:
    """Offer ``{{ name }}`` in the variables menu; it renders ``{{ expression }}``."""
    VARIABLES[name] = Variable(name, label, expression, is_url)


SHOP_URL = "brand.site_url|default:site_url"

for _name, _label, _expression, _is_url in [
    ("first_name", _("First name"), "contact.first_name", False),
    ("last_name", _("Last name"), "contact.last_name", False),
    ("email", _("Email address"), "contact.email", False),
    ("order_number", _("Order number"), "order.number", False),
    ("order_date", _("Order date"), "order.placed_at|as_datetime|local_date", False),
    ("order_total", _("Order total"), "order.total|money:order.currency", False),
    ("delivery_date", _("Expected delivery"), "order.delivery_estimate|as_date|local_date", False),
    ("delivery_method", _("Delivery method"), "order.shipping_method", False),
    ("payment_method", _("Payment method"), "order.payment_method", False),
    ("first_item", _("First item's name"), "order.items.0.name", False),
    ("shop_name", _("Shop name"), "brand.name", False),
    ("support_email", _("Support email"), "brand.support_email", False),
    ("support_phone", _("Support phone"), "brand.support_phone", False),
    ("coupon_code", _("Coupon code"), "coupon.code", False),
    ("coupon_value", _("Coupon value"), "coupon.value_text", False),
    ("order_url", _("Order page"), "order.order_url", True),
    (
        "tracking_url",
        _("Parcel tracking page"),
        "order.tracking_url",
        True,
    ),
    ("shop_url", _("Shop"), SHOP_URL, True),
]:
    register_variable(_name, _label, _expression, _is_url)

VARIABLE_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_FALLBACK_RE = re.compile(r"""^(\w+)\s*\|\s*default\s*:\s*(?:"([^"\\{}]*)"|'([^'"\\{}]*)')$""")
_TOKEN = "\x00{}\x00"
_TOKEN_RE = re.compile("\x00(\\d+)\x00")
_URL_TOKEN_RE = re.compile("\x03(\\d+)\x03")


def _lift_variables(value: str, field_name: str) -> tuple[str, list[Variable]]:
    """``value`` with each ``{{ name }}`` replaced by a numbered token; refuses names
    that are not in the menu (naming them)."""
    found: list[Variable] = []
    unknown: list[str] = []

    def lift(match: re.Match) -> str:
        name, fallback = match.group(1), ""
        with_fallback = _FALLBACK_RE.match(name)
        if with_fallback:
            name = with_fallback.group(1)
            fallback = with_fallback.group(2) or with_fallback.group(3) or ""
        variable = VARIABLES.get(name)
        if variable is not None and fallback:
            variable = replace(variable, fallback=fallback)
        if variable is None:
            unknown.append(match.group(1) or "{{ }}")
            return ""
        found.append(variable)
        return _TOKEN.format(len(found) - 1)

    lifted = VARIABLE_RE.sub(lift, re.sub("[\x00-\x08]", "", value))
    if unknown:
        names = ", ".join(f"{{{{ {n} }}}}" for n in dict.fromkeys(unknown))
        raise BlockError(
            _("Unknown variable %(names)s: pick one from the variables menu.") % {"names": names},
            field_name,
        )
    return lifted, found


def _neutralize(escaped: str) -> str:
    """No brace survives as template syntax (``{%``, ``{#``, a stray ``{{``)."""
    return escaped.replace("{", "&#123;").replace("}", "&#125;")


def _drop_tokens(value: str, variables: list[Variable], render: Callable[[Variable], str]):
    return _TOKEN_RE.sub(lambda m: render(variables[int(m.group(1))]), value)


def variables_in(value: str, field_name: str = "text") -> list[str]:
    """The variable names used in ``value``; BlockError for an unknown one."""
    return [v.name for v in _lift_variables(value or "", field_name)[1]]


def plain(value: str, field_name: str = "text") -> str:
    """Template source showing ``value`` as escaped text, its variables filled in."""
    lifted, found = _lift_variables(value or "", field_name)
    return _drop_tokens(
        _neutralize(html.escape(lifted)), found, lambda v: f"{{{{ {v.source()} }}}}"
    )


def plain_text_template(value: str, field_name: str = "subject") -> str:
    """A subject or preheader of the block editor as a plain-text Django template (the
    engine renders it without autoescaping; braces stay literal through templatetag)."""
    lifted, found = _lift_variables(value or "", field_name)
    literal = (
        lifted.replace("{", "\x01")
        .replace("}", "\x02")
        .replace("\x01", "{% templatetag openbrace %}")
        .replace("\x02", "{% templatetag closebrace %}")
    )
    return _drop_tokens(literal, found, lambda v: f"{{{{ {v.source(for_html=False)} }}}}")


# ---------------------------------------------------------------------------------------
# The text markup: **bold**, *italic*, [label](link), "- " and "1. " lists, paragraphs

_LINK_RE = re.compile(r"\[([^\[\]]+)\]\(([^()\s]+)\)")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
_ITALIC_RE = re.compile(r"(?<![\w*])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![\w*])")
_BULLET_RE = re.compile(r"^\s*[-*•]\s+(.*)$")
_NUMBER_RE = re.compile(r"^\s*\d+[.)]\s+(.*)$")
ABSOLUTE_URL_RE = re.compile(r"^(https?://[^\s/]+|mailto:[^\s]+|tel:[+\d][\d\s()+-]*$)", re.I)


def _link_target(target: str, variables: list[Variable], field_name: str) -> str:
    """An attribute value for a link target of the markup: a URL variable, or an absolute
    address (relative ones would break in a mail client)."""
    token = _TOKEN_RE.fullmatch(target)
    if token:
        variable = variables[int(token.group(1))]
        if not variable.is_url:
            raise BlockError(
                _("{{ %(name)s }} is not an address; a link needs one.") % {"name": variable.name},
                field_name,
            )
        return f"\x03{token.group(1)}\x03"  # filled in after _neutralize
    check_url(html.unescape(target), field_name)
    return target  # still escaped, right for an attribute


def check_url(url: str, field_name: str = "url") -> str:
    if not ABSOLUTE_URL_RE.match(url or ""):
        raise BlockError(
            _("Enter a full address starting with https:// (or mailto:, tel:)."), field_name
        )
    return url


def _emphasis(text: str) -> str:
    text = _BOLD_RE.sub(r"<strong>\1</strong>", text)
    return _ITALIC_RE.sub(r"<em>\1</em>", text)


def _inline(line: str, variables: list[Variable], field_name: str) -> str:
    """One line of the markup; emphasis applies to text and link labels, never inside
    an address (``https://example.com/a_b_c`` stays whole)."""
    parts, last = [], 0
    for match in _LINK_RE.finditer(line):
        target = _link_target(match.group(2), variables, field_name)
        parts.append(_emphasis(line[last : match.start()]))
        parts.append(f'<a href="{target}">{_emphasis(match.group(1))}</a>')
        last = match.end()
    parts.append(_emphasis(line[last:]))
    return "".join(parts)


def markup(value: str, field_name: str = "text") -> str:
    """Template source of a text block: the markup as HTML, escaped and with variables."""
    lifted, found = _lift_variables((value or "").replace("\r\n", "\n"), field_name)
    escaped = html.escape(lifted, quote=True)
    parts = []
    for paragraph in re.split(r"\n\s*\n", escaped.strip()):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if not lines:
            continue
        for pattern, tag in ((_BULLET_RE, "ul"), (_NUMBER_RE, "ol")):
            if all(pattern.match(line) for line in lines):
                items = "".join(
                    f"<li>{_inline(pattern.match(line).group(1), found, field_name)}</li>"
                    for line in lines
                )
                parts.append(
                    f'<{tag} style="margin: 0 0 10px; padding-left: 22px;">{items}</{tag}>'
                )
                break
        else:
            body = "<br />".join(_inline(line.strip(), found, field_name) for line in lines)
            parts.append(f'<p style="margin: 0 0 10px;">{body}</p>')
    source = _neutralize("".join(parts))
    source = _URL_TOKEN_RE.sub(
        lambda m: f"{{{{ {found[int(m.group(1))].expression}|absolute_url }}}}", source
    )
    return _drop_tokens(source, found, lambda v: f"{{{{ {v.source()} }}}}")


# ---------------------------------------------------------------------------------------
# Links of buttons and images

LINK_CHOICES = [
    ("order", _("The order's page")),
    ("shop", _("The shop")),
    ("review", _("The review page")),
    ("product", _("The first product of the order")),
    ("custom", _("Another address (below)")),
]


def link_source(block: Any, field_name: str = "link") -> str:
    """Template source of the address a button or image leads to (absolute)."""
    link = block.link or ""
    if link == "custom":
        check_url(block.url, "url")
        return _neutralize(html.escape(block.url))
    if link == "order":
        return f"{{{{ order.order_url|default:{SHOP_URL}|absolute_url }}}}"
    if link == "shop":
        return f"{{{{ {SHOP_URL}|absolute_url }}}}"
    if link == "review":
        return (
            "{% firstof order.items.0.review_url order.order_url brand.site_url site_url "
            "as pp_link %}{{ pp_link|absolute_url }}"
        )
    if link == "product":
        return (
            "{% firstof order.items.0.url brand.site_url site_url as pp_link %}"
            "{{ pp_link|absolute_url }}"
        )
    raise BlockError(_("Choose where the link leads."), field_name)


# ---------------------------------------------------------------------------------------
# Block types


@dataclass(frozen=True)
class BlockType:
    """A kind of block. ``compile(block)`` returns MJML template source: a fragment for
    inside an ``<mj-column>`` when ``section`` is False, else whole ``<mj-section>``s.
    ``fields`` are the form fields it uses (``text``, ``label``, ``link``, ``url``,
    ``alt``, ``size``); ``required`` those it cannot do without. ``replaces`` names
    blocks of the base layout it makes redundant (``shop_link``, ``support``)."""

    kind: str
    label: str | Promise
    compile: Callable[[Any], str]
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    section: bool = False
    help: str | Promise = ""
    replaces: Callable[[Any], Iterable[str]] = field(default=lambda block: ())


BLOCK_TYPES: dict[str, BlockType] = {}


def register_block(block_type: BlockType) -> BlockType:
    """Add a block type to the editor (a shop calls this in its AppConfig.ready())."""
    BLOCK_TYPES[block_type.kind] = block_type
    return block_type


def block_choices() -> list[tuple[str, Any]]:
    return [(kind, t.label) for kind, t in BLOCK_TYPES.items()]


def _include(partial: str, **values: str) -> str:
    """An include of a layout partial with string arguments (from literal())."""
    args = "".join(f' {key}="{value}"' for key, value in values.items())
    with_args = " with" + args if args else ""
    return f'{{% include "postpurchase/email/partials/{partial}.mjml"{with_args} %}}'


def literal(value: str, field_name: str = "text") -> str:
    """``value`` as the inside of a template string literal: escaped, no braces, and no
    variables (a literal cannot hold them)."""
    lifted, found = _lift_variables(value or "", field_name)
    if found:
        raise BlockError(_("Variables cannot be used in this field."), field_name)
    return _neutralize(html.escape(lifted, quote=True)).replace("\\", "&#92;")


def _heading(block) -> str:
    return f'<mj-text mj-class="h1">{plain(block.text)}</mj-text>'


def _text(block) -> str:
    return f"<mj-text>{markup(block.text)}</mj-text>"


def _button(block) -> str:
    return (
        f'<mj-button href="{link_source(block)}" align="left">{plain(block.label, "label")}'
        "</mj-button>"
    )


def _image(block) -> str:
    check_url(block.url, "url")
    if not (block.alt or "").strip():
        raise BlockError(_("Describe the picture for those who cannot see it."), "alt")
    href = f' href="{link_source(block)}"' if block.link else ""
    src = _neutralize(html.escape(block.url))
    return f'<mj-image src="{src}" alt="{plain(block.alt, "alt")}"{href} />'


def _divider(block) -> str:
    return "<mj-divider />"


def _spacer(block) -> str:
    height = block.size if block.size is not None else 24
    if not 1 <= int(height) <= 200:
        raise BlockError(_("Choose a height between 1 and 200 pixels."), "size")
    return f'<mj-spacer height="{int(height)}px" />'


def _section_heading(block) -> str:
    """A shop block's optional heading as a section of its own (the partials take
    their heading as a plain value; ours may hold variables)."""
    if not (block.text or "").strip():
        return ""
    return (
        '<mj-section padding="4px 0 0"><mj-column>'
        f'<mj-text mj-class="h2">{plain(block.text)}</mj-text></mj-column></mj-section>'
    )


def _order_items(block) -> str:
    return _section_heading(block) + _include("order_items", heading_off="1", totals="no")


def _order_summary(block) -> str:
    return _section_heading(block) + _include("order_items", heading_off="1", items="no")


def _delivery_payment(block) -> str:
    return _section_heading(block) + _include("order_details")


def _recommendations(block) -> str:
    return _section_heading(block) + _include("products")


def _coupon(block) -> str:
    button = ""
    if (block.label or "").strip():
        button = (
            '<mj-section padding="0 0 8px"><mj-column>'
            f'<mj-button href="{link_source(block)}" align="center">{plain(block.label, "label")}'
            "</mj-button></mj-column></mj-section>"
        )
    return "{% if coupon %}" + _section_heading(block) + _include("coupon") + button + "{% endif %}"


def _review_links(block) -> str:
    label = literal(block.label, "label")
    return _section_heading(block) + _include("review_links", label=label)


def _item_tips(block) -> str:
    label = literal(block.label, "label")
    return _section_heading(block) + _include("item_tips", link_label=label)


def _nps(block) -> str:
    return _section_heading(block) + _include("nps_scale")


def _support(block) -> str:
    return _section_heading(block) + _include("contacts")


for _type in [
    BlockType("heading", _("Heading"), _heading, ("text",), ("text",)),
    BlockType(
        "text",
        _("Text"),
        _text,
        ("text",),
        ("text",),
        help=_(
            '**bold**, *italic*, [link text](https://...), lines starting with "- " make a '
            "list, an empty line starts a new paragraph."
        ),
    ),
    BlockType(
        "button",
        _("Button"),
        _button,
        ("label", "link", "url"),
        ("label", "link"),
        replaces=lambda block: ["shop_link"] if block.link == "shop" else [],
    ),
    BlockType("image", _("Image"), _image, ("url", "alt", "link"), ("url", "alt")),
    BlockType("divider", _("Divider"), _divider),
    BlockType("spacer", _("Spacer"), _spacer, ("size",)),
    BlockType("order_items", _("Order items"), _order_items, ("text",), section=True),
    BlockType("order_summary", _("Order summary"), _order_summary, ("text",), section=True),
    BlockType(
        "delivery_payment", _("Delivery and payment"), _delivery_payment, ("text",), section=True
    ),
    BlockType(
        "recommendations", _("Recommended products"), _recommendations, ("text",), section=True
    ),
    BlockType(
        "coupon",
        _("Coupon"),
        _coupon,
        ("text", "label", "link", "url"),
        section=True,
        help=_("Shows the code when the email step gives a coupon."),
    ),
    BlockType(
        "review_links", _("Review links per item"), _review_links, ("text", "label"), section=True
    ),
    BlockType(
        "item_tips",
        _("Care tips per item"),
        _item_tips,
        ("text", "label"),
        section=True,
        help=_("The tips the shop gives for each item; the button text links to its guide."),
    ),
    BlockType("nps", _("NPS scale (0-10)"), _nps, ("text",), section=True),
    BlockType(
        "support",
        _("Support contacts"),
        _support,
        ("text",),
        section=True,
        replaces=lambda block: ["support"],
    ),
]:
    register_block(_type)


# ---------------------------------------------------------------------------------------
# Compiling


def compile_block(block: Any) -> str:
    block_type = BLOCK_TYPES.get(block.kind)
    if block_type is None:
        raise BlockError(_("Unknown block type %(kind)s.") % {"kind": block.kind}, "kind")
    for name in block_type.required:
        value = getattr(block, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BlockError(_("This block needs this field."), name)
    return block_type.compile(block)


def compile_blocks(blocks: Iterable[Any]) -> str:
    """The MJML template source of a content built from ``blocks`` (in their order):
    the base layout with consecutive inline blocks grouped into one white card and the
    shop blocks as their own sections. Raises BlockError (``.block`` set to the block)."""
    parts: list[str] = []
    column: list[str] = []
    replaced: set[str] = set()

    def close_column():
        if column:
            parts.append(
                '<mj-section padding="8px 0"><mj-column>'
                + "".join(column)
                + "</mj-column></mj-section>"
            )
            column.clear()

    for block in sorted(blocks, key=lambda b: (b.position or 0, b.pk or 0)):
        try:
            source = compile_block(block)
        except BlockError as exc:
            exc.block = block
            raise
        block_type = BLOCK_TYPES[block.kind]
        replaced.update(block_type.replaces(block))
        if block_type.section:
            close_column()
            parts.append(source)
        else:
            column.append(source)
    close_column()
    overrides = "".join(f"{{% block {name} %}}{{% endblock %}}" for name in sorted(replaced))
    return (
        f'{{% extends "{BASE_LAYOUT}" %}}{overrides}'
        "{% block content %}" + "\n".join(parts) + "{% endblock content %}"
    )


@transaction.atomic
def copy_to_language(content: EmailContent, language: str) -> EmailContent:
    """A new content of the same template in ``language``: the same editor, subject,
    preheader and blocks (or MJML body), for a marketer to translate. BlockError if
    the template has content in that language already."""
    if content.template.contents.filter(language=language).exists():
        raise BlockError(
            _("This email already has content in %(language)s.") % {"language": language},
            "language",
        )
    copy = EmailContent.objects.create(
        template=content.template,
        language=language,
        editor=content.editor,
        subject=content.subject,
        preheader=content.preheader,
        body=content.body,
    )
    EmailBlock.objects.bulk_create(
        EmailBlock(content=copy, **{name: getattr(block, name) for name in BLOCK_FIELDS})
        for block in content.blocks.all()
    )
    return copy
