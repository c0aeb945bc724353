"""Filters available in every email template (loaded as a builtin of the email engine).

- ``{{ item.price|money:order.currency }}`` -> "4 990,00 ₽" in Russian, "$49.90" in English
- ``{{ order.placed_at|as_datetime|date:"j E Y" }}`` parses the ISO strings of a snapshot
- ``{{ order.delivery_estimate|as_date|date:"j E" }}``
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django import template
from django.utils import formats, translation
from django.utils.dateparse import parse_date, parse_datetime

register = template.Library()

CURRENCY_SYMBOLS = {
    "RUB": "₽",
    "UAH": "₴",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "KZT": "₸",
    "BYN": "Br",
    "PLN": "zł",
}
# Languages that write the symbol before the amount ("$49.90"); the rest after it.
_SYMBOL_FIRST = {"en"}


@lru_cache(maxsize=64)
def _number_style(language: str) -> tuple[str, str, int]:
    """(decimal separator, thousand separator, grouping) of a language, looked up once:
    ``formats.number_format`` looks them up on every call, which shows in a batch."""
    with translation.override(language):
        return (
            formats.get_format("DECIMAL_SEPARATOR"),
            formats.get_format("THOUSAND_SEPARATOR"),
            formats.get_format("NUMBER_GROUPING") or 3,
        )


def _group(digits: str, separator: str, size: int) -> str:
    if size <= 0 or len(digits) <= size:
        return digits
    head = len(digits) % size or size
    parts = [digits[:head]] + [digits[i : i + size] for i in range(head, len(digits), size)]
    return separator.join(parts)


@register.filter
def money(value, currency: str = "") -> str:
    """Format an amount (number or numeric string) with the currency, in the active locale:
    "4 990 ₽" in Russian, "$49.90" in English; kopecks/cents only when there are any."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    language = (translation.get_language() or "en").split("-")[0]
    decimal_sep, thousand_sep, grouping = _number_style(language)
    if isinstance(grouping, list | tuple):  # Django allows per-group sizes; use the first
        grouping = grouping[0] if grouping else 3
    whole = amount == amount.to_integral_value()
    text = f"{abs(amount):.0f}" if whole else f"{abs(amount):.2f}"
    integer, _, fraction = text.partition(".")
    number = _group(integer, thousand_sep, int(grouping))
    if fraction:
        number = f"{number}{decimal_sep}{fraction}"
    if amount < 0:
        number = f"\N{MINUS SIGN}{number}"
    code = (currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code, code)
    if not symbol:
        return number
    if language in _SYMBOL_FIRST and len(symbol) == 1:
        return f"{symbol}{number}"
    return f"{number}\N{NO-BREAK SPACE}{symbol}"


@register.filter
def as_datetime(value):
    """Parse an ISO datetime string from a snapshot; pass datetimes through."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value) or as_date(value)
    return None


@register.filter
def as_date(value):
    """Parse an ISO date (or datetime) string from a snapshot; pass dates through."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return parse_date(value[:10])
        except ValueError:
            return None
    return None


class BrandPartNode(template.Node):
    """Renders its content once per (email template, language, branding) and reuses it.

    For parts of a layout that depend on nothing but ``brand``, ``site_url``,
    ``language`` and constants (head styles, header, support and social blocks): a
    batch of emails then renders them once instead of once per email. Never put
    per-email values (contact, order, unsubscribe_url) inside.
    """

    MAX_ENTRIES = 64

    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        root = context.template
        key_source = context.get("brand_key")
        if root is None or key_source is None:
            return self.nodelist.render(context)
        cache = root.__dict__.setdefault("_postpurchase_brand_parts", {})
        key = (id(self), translation.get_language(), key_source)
        if key not in cache:
            if len(cache) >= self.MAX_ENTRIES:
                cache.clear()
            cache[key] = self.nodelist.render(context)
        return cache[key]


@register.tag
def brandpart(parser, token):
    """``{% brandpart %}...{% endbrandpart %}``: see :class:`BrandPartNode`."""
    nodelist = parser.parse(("endbrandpart",))
    parser.delete_first_token()
    return BrandPartNode(nodelist)
