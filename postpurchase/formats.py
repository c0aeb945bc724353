"""Money and dates for people, in one style per language, from CLDR data (Babel).

The email filters (``money``, ``local_date``, ``local_datetime``), the admin and the
example shop all format through these functions, so an order reads the same everywhere:
"4 290 ₽, 1 декабря 2026 г." in Russian, "₽4,290, December 1, 2026" in English.

A leaf: imports no models and no service code.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import (
    NumberPattern,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
)
from django.utils import translation
from django.utils.dateparse import parse_date, parse_datetime

from postpurchase.conf import get_setting

__all__ = [
    "money",
    "number",
    "short_date",
    "percent",
    "date",
    "datetime",
    "parse_date_value",
    "parse_datetime_value",
]

# CLDR's narrow symbols, which Babel does not ship: used with CURRENCY_DISPLAY "symbol"
# where a language's own CLDR symbol is just the code (English has "RUB", not "₽").
NARROW_SYMBOLS = {
    "RUB": "₽",
    "UAH": "₴",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "KZT": "₸",
    "BYN": "Br",
    "PLN": "zł",
}

# Amounts of 10**18 and more are bad data, not money (and would print as thousands of
# digits, or overflow the decimal context).
_MAX_DIGITS = 18
_QUOTED = re.compile(r"'([^']*)'")


@lru_cache(maxsize=64)
def _locale(language: str | None) -> Locale:
    """The Babel locale of a language code ("ru", "en-us", "pt_BR"); English if unknown."""
    try:
        return Locale.parse((language or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def _active_language() -> str:
    return translation.get_language() or "en"


@lru_cache(maxsize=256)
def _pattern(language: str, kind: str, digits: int) -> tuple[NumberPattern, Locale]:
    locale = _locale(language)
    base = (
        locale.currency_formats["standard"] if kind == "currency" else locale.decimal_formats[None]
    )
    pattern = copy.copy(base)
    pattern.frac_prec = (digits, digits)
    return pattern, locale


def _symbol(code: str, locale: Locale) -> str:
    if get_setting("CURRENCY_DISPLAY") == "code":
        return code
    own = get_currency_symbol(code, locale)
    if own == code:
        return NARROW_SYMBOLS.get(code, code)
    return own


def _spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing: a symbol of letters ("RUB") next to a digit gets a
    no-break space ("RUB 4,290"); "$4,290" and "4 290 ₽" stay as they are."""
    at = text.find(symbol)
    if at < 0:
        return text
    before, after = text[:at], text[at + len(symbol) :]
    if symbol[-1].isalpha() and after[:1].isdigit():
        after = "\N{NO-BREAK SPACE}" + after
    if symbol[0].isalpha() and before[-1:].isdigit():
        before += "\N{NO-BREAK SPACE}"
    return before + symbol + after


def money(amount, currency="", language: str | None = None) -> str:
    """An amount (number or numeric string) with its currency in ``language`` (the
    active one if None): "4 290 ₽" in Russian, "₽4,290" in English; kopecks/cents only
    when there are any.

    It never raises: text that is not a number ("on request") is returned as given, and
    whatever else is not an amount (NaN, infinity, 1e30, True, a list) gives "". A
    currency that is not a string is left out."""
    if amount is None or isinstance(amount, bool) or (isinstance(amount, str) and not amount):
        return ""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):  # ValueError: int too long for str()
        return amount if isinstance(amount, str) else ""
    code = currency.strip().upper() if isinstance(currency, str) else ""
    language = language or _active_language()
    try:
        if not value.is_finite() or value.adjusted() >= _MAX_DIGITS:
            return ""
        digits = 0
        if value != value.to_integral_value():
            digits = get_currency_precision(code) if code else 2
            value = value.quantize(Decimal(1).scaleb(-digits))
        if value == 0:
            value = abs(value)  # -0.001 shows as 0.00, not as minus zero
        pattern, locale = _pattern(language, "currency" if code else "decimal", digits)
        text = pattern.apply(value, locale, currency=None, decimal_quantization=True)
    except ArithmeticError:  # a decimal context with stricter traps than the default
        return ""
    text = _QUOTED.sub(lambda m: m.group(1) or "'", text)
    if not code:
        return text
    symbol = _symbol(code, locale)
    return _spaced(text.replace("¤", symbol), symbol)


def short_date(value, language: str | None = None) -> str:
    """Day and month for a chart's axis: "1 дек.", "1 Dec"; "" if not a date."""
    day = parse_date_value(value)
    if day is None:
        return ""
    return format_date(day, "d MMM", locale=_locale(language or _active_language()))


def number(value, language: str | None = None) -> str:
    """A count with the language's grouping: "12 345" in Russian, "12,345" in English."""
    return format_decimal(value, locale=_locale(language or _active_language()))


def percent(ratio, language: str | None = None) -> str:
    """A ratio as a percentage with one decimal: "12,5 %" in Russian, "12.5%" in
    English; "–" for None (nothing to compare with)."""
    if ratio is None:
        return "–"
    return format_percent(ratio, "#,##0.0%", locale=_locale(language or _active_language()))


def parse_date_value(value) -> dt.date | None:
    """A date from a date, a datetime or an ISO string of a snapshot; None otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return parse_date(value.strip()[:10])
        except ValueError:
            return None
    return None


def parse_datetime_value(value) -> dt.datetime | dt.date | None:
    """A datetime from a datetime or an ISO string (a bare date stays a date)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            found = parse_datetime(value.strip())
        except ValueError:
            found = None
        return found or parse_date_value(value)
    return parse_date_value(value)


def _zone(tz) -> dt.tzinfo | None:
    if tz is None or isinstance(tz, dt.tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def date(value, language: str | None = None) -> str:
    """The one date style of a language (CLDR "long"): "1 декабря 2026 г.",
    "1 грудня 2026 р.", "December 1, 2026". Accepts dates, datetimes (their own day)
    and ISO strings; "" for anything else."""
    day = parse_date_value(value)
    if day is None:
        return ""
    return format_date(day, "long", locale=_locale(language or _active_language()))


def datetime(value, language: str | None = None, tz=None) -> str:
    """Date in the language's one style and the time, shown in ``tz`` (a tzinfo or a
    zone name; None keeps the value's own): "1 декабря 2026 г., 14:30",
    "December 1, 2026, 2:30 PM". A naive datetime is taken as already in ``tz``; a bare
    date prints as :func:`date`; "" for anything else."""
    found = parse_datetime_value(value)
    if found is None:
        return ""
    if not isinstance(found, dt.datetime):
        return date(found, language)
    zone = _zone(tz)
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone or dt.UTC)
    elif zone is not None:
        found = found.astimezone(zone)
    locale = _locale(language or _active_language())
    joined = str(locale.datetime_formats["long"])
    day = format_date(found.date(), "long", locale=locale)
    time = format_time(found, "short", tzinfo=found.tzinfo, locale=locale)
    return _QUOTED.sub(lambda m: m.group(1) or "'", joined).replace("{1}", day).replace("{0}", time)
