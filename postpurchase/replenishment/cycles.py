"""How long a unit of a product lasts: configured, or learned from repurchases."""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from typing import Any

from django.db import transaction

from postpurchase import clock, history
from postpurchase.adapters import get_adapter, positive_days
from postpurchase.conf import get_setting
from postpurchase.models import CycleSource, LearnedCycle, PurchasedProduct

logger = logging.getLogger("postpurchase.replenishment")

#: Intervals between one contact's orders of one product that are kept (the latest).
INTERVALS_KEPT = 10
#: Orders of the same product closer than this are one purchase split in two.
MIN_INTERVAL_DAYS = 1.0


def configured(item: dict[str, Any], snapshot: dict[str, Any], contact_id: int):
    """(days per unit, source) that the shop gives for this item: the adapter's
    ``replenish_days`` (the item's attribute by default), else the category's in
    ``REPLENISHMENT_CATEGORY_DAYS``; (None, NONE) when neither says. An adapter that
    raises is logged and counts as not saying."""
    try:
        days = positive_days(get_adapter().replenish_days(item, snapshot))
    except Exception:
        logger.exception(
            "postpurchase: the adapter's replenish_days() raised for contact %s", contact_id
        )
        days = None
    if days is not None:
        return days, CycleSource.CONFIGURED
    return category_setting(str(item.get("category") or ""))


def category_setting(category: str):
    days = positive_days(get_setting("REPLENISHMENT_CATEGORY_DAYS").get(category))
    if days is not None:
        return days, CycleSource.CATEGORY_SETTING
    return None, CycleSource.NONE


class Learned:
    """The learned cycles of some products and categories, read in one query; only
    those with ``REPLENISHMENT_MIN_OBSERVATIONS`` observations are given."""

    def __init__(self, skus, categories) -> None:
        minimum = get_setting("REPLENISHMENT_MIN_OBSERVATIONS")
        self.found: dict[tuple[str, str], float] = {}
        skus, categories = set(skus), {c for c in categories if c}
        rows = LearnedCycle.objects.filter(observations__gte=minimum)
        for kind, keys in (
            (LearnedCycle.Kind.PRODUCT, skus),
            (LearnedCycle.Kind.CATEGORY, categories),
        ):
            for start in range(0, len(keys), 500):
                chunk = sorted(keys)[start : start + 500]
                for key, days in rows.filter(kind=kind, key__in=chunk).values_list(
                    "key", "days_per_unit"
                ):
                    self.found[kind, key] = days

    def cycle(self, sku: str, category: str):
        """(days per unit, source): the product's, else its category's, else (None, NONE)."""
        days = self.found.get((LearnedCycle.Kind.PRODUCT, sku))
        if days is not None:
            return days, CycleSource.PRODUCT
        days = self.found.get((LearnedCycle.Kind.CATEGORY, category)) if category else None
        if days is not None:
            return days, CycleSource.CATEGORY
        return None, CycleSource.NONE


def learn() -> int:
    """Recompute the median days per unit between repurchases of each product and each
    category, from every contact's intervals. Returns the number of cycles kept."""
    by_product: dict[str, list[float]] = defaultdict(list)
    by_category: dict[str, list[float]] = defaultdict(list)
    rows = (
        PurchasedProduct.objects.filter(orders__gte=2)
        .values_list("sku", "category", "intervals")
        .iterator(chunk_size=2000)
    )
    for sku, category, intervals in rows:
        values = [v for v in intervals or [] if isinstance(v, int | float) and v > 0]
        by_product[sku].extend(values)
        if category:
            by_category[category].extend(values)
    now = clock.now()
    learned = [
        {
            "kind": kind,
            "key": key,
            "days_per_unit": round(statistics.median(values), 2),
            "observations": len(values),
            "refreshed_at": now,
        }
        for kind, groups in (
            (LearnedCycle.Kind.PRODUCT, by_product),
            (LearnedCycle.Kind.CATEGORY, by_category),
        )
        for key, values in groups.items()
        if values
    ]
    with transaction.atomic():
        history.upsert(
            LearnedCycle,
            learned,
            keys=["kind", "key"],
            replace=["days_per_unit", "observations", "refreshed_at"],
        )
        # What no longer has repurchases (events deleted, SKUs renamed) is forgotten.
        LearnedCycle.objects.filter(refreshed_at__lt=now).delete()
    return len(learned)
