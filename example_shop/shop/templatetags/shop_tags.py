from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()

SYMBOLS = {"RUB": "₽", "UAH": "₴", "USD": "$", "EUR": "€"}


@register.filter
def money(amount: Decimal | str | None, currency: str = "RUB") -> str:
    """``4990`` -> ``4 990 ₽`` (kopecks shown only when there are any)."""
    if amount in (None, ""):
        return ""
    value = Decimal(str(amount))
    text = f"{value:,.2f}".replace(",", "\u00a0")
    if text.endswith(".00"):
        text = text[:-3]
    return f"{text}\u00a0{SYMBOLS.get(currency, currency)}"


@register.filter
def stars(rating: int | None) -> str:
    rating = int(rating or 0)
    return "★" * rating + "☆" * (5 - rating)
