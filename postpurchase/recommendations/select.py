"""Choosing products for one order from the cached tables: a few indexed reads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Sum

from postpurchase import history
from postpurchase.conf import get_setting
from postpurchase.models import (
    Contact,
    ProductPair,
    ProductStat,
    PurchasedProduct,
    normalize_email,
)

#: Why a product was suggested (``reason`` of each result), in the order they are tried.
TOGETHER, PRICIER, CATEGORY_BESTSELLER, BESTSELLER = (
    "bought_together",
    "pricier",
    "category_bestseller",
    "bestseller",
)
#: Categories of one order looked at for "pricier" and category bestsellers.
CATEGORIES_MAX = 3


def for_order(
    snapshot: dict[str, Any], contact: Contact | None = None, limit: int = 3
) -> list[dict[str, Any]]:
    """Up to ``limit`` products to suggest after the order ``snapshot``: first those
    most often bought together with its products, then pricier ones in the same
    category (the most ordered first), then the bestsellers of its categories and of
    the shop (orders in the last ``RECOMMENDATIONS_BESTSELLER_DAYS`` days, then of all
    time). Never a product of this order or one the contact (``contact``, else the
    snapshot's ``email``) bought before. Each is a dict: sku, name, category, url,
    image_url, price, currency and ``reason`` (one of TOGETHER, PRICIER,
    CATEGORY_BESTSELLER, BESTSELLER)."""
    if limit <= 0:
        return []
    lines = history.order_lines(snapshot)
    skip = {line.sku for line in lines} | _bought_before(snapshot, contact)
    picked: dict[str, str] = {}  # sku -> reason, in order

    def want() -> int:  # enough rows that those skipped or picked already leave ``limit``
        return limit + len(skip) + len(picked)

    def take(skus, reason: str) -> bool:
        for sku in skus:
            if sku not in skip and sku not in picked:
                picked[sku] = reason
                if len(picked) >= limit:
                    return True
        return False

    order_skus = [line.sku for line in lines]
    if order_skus:
        together = (
            ProductPair.objects.filter(
                sku__in=order_skus, orders__gte=get_setting("RECOMMENDATIONS_MIN_PAIR_ORDERS")
            )
            .values("other_sku")
            .annotate(score=Sum("orders"))
            .order_by("-score", "other_sku")
            .values_list("other_sku", flat=True)[: want()]
        )
        if take(together, TOGETHER):
            return _products(picked)
    categories = _categories(lines)
    currency = str(snapshot.get("currency") or "") if isinstance(snapshot, dict) else ""
    for category, price in categories.items():
        if price is None:
            continue
        pricier = ProductStat.objects.filter(category=category, price__gt=price)
        if currency:
            pricier = pricier.filter(currency=currency)
        pricier = pricier.order_by("-orders_recent", "-orders_total", "price", "sku")
        if take(pricier.values_list("sku", flat=True)[: want()], PRICIER):
            return _products(picked)
    if categories:
        best = ProductStat.objects.filter(category__in=list(categories)).order_by(
            "-orders_recent", "-orders_total", "sku"
        )
        if take(best.values_list("sku", flat=True)[: want()], CATEGORY_BESTSELLER):
            return _products(picked)
    best = ProductStat.objects.order_by("-orders_recent", "-orders_total", "sku")
    take(best.values_list("sku", flat=True)[: want()], BESTSELLER)
    return _products(picked)


def _bought_before(snapshot: dict[str, Any], contact: Contact | None) -> set[str]:
    """SKUs the contact bought before (one query: by the snapshot's address, joined,
    when no contact is given)."""
    bought = PurchasedProduct.objects.all()
    if contact is not None:
        bought = bought.filter(contact_id=contact.pk)
    else:
        try:
            bought = bought.filter(contact__email=normalize_email(snapshot.get("email")))
        except (ValidationError, AttributeError):
            return set()
    return set(bought.values_list("sku", flat=True))


def _categories(lines: list[history.Line]) -> dict[str, Any]:
    """The order's categories (at most CATEGORIES_MAX), each with its dearest item's price."""
    found: dict[str, Any] = {}
    for line in lines:
        if not line.category:
            continue
        if line.category not in found:
            if len(found) >= CATEGORIES_MAX:
                continue
            found[line.category] = line.price
        elif line.price is not None and (found[line.category] or 0) < line.price:
            found[line.category] = line.price
    return found


def _products(picked: dict[str, str]) -> list[dict[str, Any]]:
    stats = {s.sku: s for s in ProductStat.objects.filter(sku__in=list(picked))}
    products = []
    for sku, reason in picked.items():
        stat = stats.get(sku)
        if stat is None:  # a pair whose product row is gone (rebuild in progress)
            continue
        item = stat.item or {}
        products.append(
            {
                "sku": sku,
                "name": stat.name,
                "category": stat.category,
                "url": item.get("url", ""),
                "image_url": item.get("image_url", ""),
                "price": item.get("price", "" if stat.price is None else str(stat.price)),
                "currency": stat.currency,
                "reason": reason,
            }
        )
    return products
