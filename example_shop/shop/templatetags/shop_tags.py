from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import timezone, translation

from postpurchase import formats

register = template.Library()


# The shop formats money and dates with postpurchase's functions, so a page and the
# emails about the same order read alike ("4 290 ₽, 1 декабря 2026 г." in Russian).
@register.filter
def money(amount: Decimal | str | None, currency: str = "RUB") -> str:
    """``4990`` -> ``4 990 ₽`` in Russian, ``₽4,990`` in English."""
    return formats.money(amount, currency, translation.get_language())


@register.filter(expects_localtime=True)
def local_date(value) -> str:
    return formats.date(value, translation.get_language())


@register.filter
def local_datetime(value) -> str:
    return formats.datetime(value, translation.get_language(), timezone.get_current_timezone())


@register.filter
def stars(rating: int | None) -> str:
    rating = int(rating or 0)
    return "★" * rating + "☆" * (5 - rating)
