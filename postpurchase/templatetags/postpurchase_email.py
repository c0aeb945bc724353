"""Filters available in every email template (loaded as a builtin of the email engine).

All formatting goes through :mod:`postpurchase.formats` (CLDR data), in the language
the email is rendered in and the contact's time zone:

- ``{{ item.price|money:order.currency }}`` -> "4 990 ₽" in Russian, "₽4,990" in English
- ``{{ order.delivery_estimate|local_date }}`` -> "1 декабря 2026 г.", "December 1, 2026"
- ``{{ order.placed_at|local_datetime }}`` -> "1 декабря 2026 г., 14:30"
- ``as_date`` / ``as_datetime`` parse the ISO strings of a snapshot (for ``{% if %}``,
  ``{% with %}`` and comparisons); print dates with ``local_date`` / ``local_datetime``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.template.loader_tags import BLOCK_CONTEXT_KEY
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.safestring import SafeString

from postpurchase import formats
from postpurchase.conf import site_url

register = template.Library()


@register.filter
def money(value, currency: str = "") -> str:
    """Format an amount with the currency in the active language (see formats.money):
    "4 990 ₽" in Russian, "$49.90" in English. Never raises: text that is not a
    number ("on request") is shown as given, other non-amounts render empty."""
    return formats.money(value, currency, translation.get_language())


@register.filter(expects_localtime=True)  # an aware datetime: its day where the reader is
def local_date(value) -> str:
    """A date, datetime or ISO string in the active language's one date style."""
    return formats.date(value, translation.get_language())


@register.filter
def local_datetime(value) -> str:
    """A datetime or ISO string in the active language, in the active time zone."""
    return formats.datetime(value, translation.get_language(), timezone.get_current_timezone())


@register.filter
def absolute_url(value) -> str:
    """A link as a mail client needs it: a relative address (``/orders/1/``) gets the
    site's address in front; absolute ones, ``mailto:`` and ``tel:`` pass unchanged."""
    url = str(value or "").strip()
    if not url or url.split(":", 1)[0].lower() in ("http", "https", "mailto", "tel"):
        return url
    return site_url() + "/" + url.lstrip("/")


@register.filter
def as_datetime(value):
    """Parse an ISO datetime string from a snapshot; pass datetimes through."""
    return formats.parse_datetime_value(value)


@register.filter
def as_date(value):
    """Parse an ISO date (or datetime) string from a snapshot; pass dates through."""
    return formats.parse_date_value(value)


# Values a cached part may depend on: compared by type and printed form, as equal values
# may print differently (Decimal("1.0") and Decimal("1.00"), -0.0 and 0.0, one instant in
# two time zones) and a SafeString renders unescaped where a str with the same text is
# escaped. Anything else (a Contact, a callable) makes the part uncacheable.
_EXACT = frozenset({str, SafeString, int, bool, type(None)})  # equal means printed the same
_BY_REPR = frozenset({float, Decimal, date, datetime})  # repr shows digits, sign, time zone
_MISSING = object()


class _Unkeyable(Exception):
    pass


def _frozen(value, depth: int = 0):
    """``value`` as a hashable key; raises _Unkeyable for what cannot be compared."""
    kind = type(value)
    if kind in _EXACT:
        return kind, value
    if kind in _BY_REPR:
        return kind, repr(value)
    if value is _MISSING:
        return value
    if isinstance(value, Promise):  # a lazy translation: its text in the active language
        return Promise, str(value)
    if depth < 4:  # brand -> social_links -> link -> url
        if kind is dict:  # keys too: {1: "x"} == {True: "x"}, printed differently
            return dict, tuple(
                (_frozen(k, depth + 1), _frozen(v, depth + 1)) for k, v in value.items()
            )
        if kind is list or kind is tuple:
            return kind, tuple(_frozen(v, depth + 1) for v in value)
    raise _Unkeyable


class _Reads(dict):
    """Put under a part while it renders, on top of the context (each name the part looks
    up and does not bind itself falls through to here) and right above the builtins (a
    ``"name" in context`` test goes bottom-up and stops at the first dict that has it).
    Notes each name asked for; always empty.

    Anything else a tag may do with the context's dicts (``{% debug %}``, ``flatten()``,
    iterating, items(), len(), repr()) means the part may have read all of it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, None] = {}
        self.everything = False

    def __contains__(self, key) -> bool:
        self.names[key] = None
        return False

    def get(self, key, default=None):
        self.names[key] = None
        return default

    def __getitem__(self, key):
        self.names[key] = None
        raise KeyError(key)

    def _whole(self, name: str):
        self.everything = True
        return getattr(super(), name)

    def keys(self):
        return self._whole("keys")()

    def values(self):
        return self._whole("values")()

    def items(self):
        return self._whole("items")()

    def copy(self):
        return self._whole("copy")()

    def __iter__(self):
        return self._whole("__iter__")()

    def __reversed__(self):
        return self._whole("__reversed__")()

    def __len__(self) -> int:
        return self._whole("__len__")()

    def __repr__(self) -> str:
        return self._whole("__repr__")()

    def __eq__(self, other) -> bool:
        return self._whole("__eq__")(other)

    def __or__(self, other):
        return self._whole("__or__")(other)

    def __ror__(self, other):
        return self._whole("__ror__")(other)

    def __reduce_ex__(self, protocol):  # copy, deepcopy, pickle
        return self._whole("__reduce_ex__")(protocol)

    __hash__ = None  # as a dict's: __eq__ is overridden


def _blocks_in_force(context) -> tuple:
    """Which ``{% block %}`` nodes an inheritance chain supplies right now, by identity
    (the nodes themselves, so a freed node's id cannot be reused for another). With
    ``{% extends layout %}`` the same part renders another override of a block for
    another email, and Django finds that override outside the context, where it is
    never noted as a read; the chain of the built-in layout is the same for every
    email of a template, so its parts stay cached."""
    block_context = context.render_context.get(BLOCK_CONTEXT_KEY)
    if block_context is None:
        return ()
    return tuple((name, tuple(nodes)) for name, nodes in block_context.blocks.items() if nodes)


class _PartCache:
    """What one part rendered, per set of names it read and their values."""

    __slots__ = ("outputs", "count", "cacheable")

    def __init__(self) -> None:
        self.outputs: dict[tuple, dict[tuple, str]] = {}  # names -> {values: output}
        self.count = 0
        self.cacheable = True

    def give_up(self) -> None:
        self.cacheable = False
        self.outputs = {}


class BrandPartNode(template.Node):
    """Renders its content once per (email template, language, branding) and reuses it,
    where that cannot show one customer what belongs to another.

    For parts of a layout that depend on nothing but ``brand``, ``site_url``,
    ``language`` and constants (head styles, header, support and social blocks): a
    batch of emails then renders them once instead of once per email, and later batches
    reuse them (the cache lives on the compiled template).

    A staff member may still override such a block with ``Hi {{ contact.first_name }}``,
    so a part is never trusted to follow that rule. Its first render notes every name it
    reads from the context around it (names it binds itself, such as a ``{% for %}``
    variable, do not count). Its output is reused only for a later email in which each
    of those names has the same plain value, of the same type and printed the same
    (strings, numbers, dates, and dicts and lists of them, such as ``brand``), and in
    which the inheritance chain supplies the same ``{% block %}`` overrides (with
    ``{% extends layout %}`` each layout gets its own outputs). A part that reads a
    contact, a coupon, a callable or the whole context (``{% debug %}``, a tag that
    walks or flattens it) is rendered for every email. A part that reads per-email
    plain values (an order number, an unsubscribe link) would be right but never
    reused, so after MAX_VARIANTS outputs it is rendered for every email too.

    Custom tags are seen through the context: lookups, ``get()``, ``"name" in
    context`` and any walk over its dicts are noted. A tag that reads something
    the context does not hold (its own module state, the request, the database)
    is not, so such a tag belongs outside a brandpart.
    """

    MAX_ENTRIES = 64
    MAX_VARIANTS = 8

    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        root = context.template
        key_source = context.get("brand_key")
        if root is None or key_source is None:
            return self.nodelist.render(context)
        cache = root.__dict__.setdefault("_postpurchase_brand_parts", {})
        # The node itself, not its id: a layout compiled again has new nodes.
        key = (self, translation.get_language(), key_source, _blocks_in_force(context))
        part = cache.get(key)
        if part is None:
            if len(cache) >= self.MAX_ENTRIES:
                cache.clear()
            part = cache[key] = _PartCache()
        if not part.cacheable:
            return self.nodelist.render(context)
        # A copy: another thread may add to it (a compiled template is shared).
        for names, outputs in tuple(part.outputs.items()):
            try:
                found = outputs.get(tuple(_frozen(context.get(n, _MISSING)) for n in names))
            except _Unkeyable:
                continue
            if found is not None:
                return found
        reads = _Reads()
        context.dicts.insert(1, reads)  # after the builtins, so dicts[1:] still has all
        context.dicts.append(reads)
        context.push()  # what the part binds ({% translate ... as x %}) lands above
        try:
            output = self.nodelist.render(context)
        finally:
            # By identity (it compares equal to nothing), with whatever is above it.
            places = [i for i, d in enumerate(context.dicts) if d is reads]
            del context.dicts[places[-1] :]
            del context.dicts[places[0]]
        names = tuple(reads.names)
        try:
            if reads.everything:
                raise _Unkeyable
            values = tuple(_frozen(context.get(n, _MISSING)) for n in names)
        except _Unkeyable:
            part.give_up()
            return output
        part.outputs.setdefault(names, {})[values] = output
        part.count += 1
        if part.count > self.MAX_VARIANTS:
            part.give_up()
        return output


@register.tag
def brandpart(parser, token):
    """``{% brandpart %}...{% endbrandpart %}``: see :class:`BrandPartNode`."""
    nodelist = parser.parse(("endbrandpart",))
    parser.delete_first_token()
    return BrandPartNode(nodelist)
