"""Folding orders into the recommendation tables: per product (latest name, price,
link; order counts), per product and day (the bestseller window) and per pair of
products in one order."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from itertools import permutations
from typing import Any

from django.db import transaction
from django.db.models import Case, IntegerField, Sum, Value, When

from postpurchase import clock, history
from postpurchase.conf import get_setting
from postpurchase.models import ProductDay, ProductPair, ProductStat

logger = logging.getLogger("postpurchase.recommendations")

CURSOR = "recommendations"
#: Distinct products of one order that enter pairs: n products make n*(n-1) rows, and an
#: order of 300 lines (a wholesale one) says little about what goes together.
PAIR_PRODUCTS_MAX = 20
#: Batches one run of the job takes at most (the rest waits for the next run).
MAX_BATCHES = 20


def refresh(max_batches: int = MAX_BATCHES) -> int:
    """The periodic job: fold the orders recorded since the last run into the tables
    (at most ``max_batches`` batches of ``RECOMMENDATIONS_BATCH_SIZE``), then recount
    the bestseller window. Returns the number of orders taken in."""
    taken = history.catch_up(CURSOR, get_setting("RECOMMENDATIONS_BATCH_SIZE"), fold, max_batches)
    recount_recent()
    return taken


def rebuild() -> int:
    """Empty the tables and fold the whole history in again (for a shop that changed
    SKUs, or deleted events): runs until done, so call it from a shell or command."""
    with transaction.atomic():
        ProductPair.objects.all().delete()
        ProductDay.objects.all().delete()
        ProductStat.objects.all().delete()
        history.rewind(CURSOR)
    taken = 0
    while True:
        count = refresh()
        taken += count
        if not count:
            return taken


def fold(events: list[dict[str, Any]]) -> None:
    """Add a batch of order events to the tables (inside ``history.advance``'s
    transaction)."""
    stats: dict[str, dict[str, Any]] = {}
    days: Counter = Counter()
    pairs: Counter = Counter()
    for event in history.first_signals(events):
        lines = history.order_lines(event["snapshot"])
        moment = event["occurred_at"]
        day = history.day_of(moment)
        for line in lines:
            row = stats.get(line.sku)
            if row is None:
                row = stats[line.sku] = {"orders_total": 0, "last_ordered_at": None}
            row["orders_total"] += 1
            if row["last_ordered_at"] is None or moment >= row["last_ordered_at"]:
                row.update(
                    name=line.name,
                    category=line.category,
                    price=line.price,
                    currency=line.currency,
                    item=_shown(line.item),
                    last_ordered_at=moment,
                )
            days[line.sku, day] += 1
        skus = [line.sku for line in lines][:PAIR_PRODUCTS_MAX]
        for pair in permutations(skus, 2):
            pairs[pair] += 1
    history.upsert(
        ProductStat,
        [{"sku": sku, "orders_recent": 0, **row} for sku, row in stats.items()],
        keys=["sku"],
        add=["orders_total"],
        replace=["name", "category", "price", "currency", "item"],
        latest="last_ordered_at",
    )
    history.upsert(
        ProductDay,
        [{"sku": sku, "day": day, "orders": n} for (sku, day), n in days.items()],
        keys=["sku", "day"],
        add=["orders"],
    )
    history.upsert(
        ProductPair,
        [{"sku": a, "other_sku": b, "orders": n} for (a, b), n in pairs.items()],
        keys=["sku", "other_sku"],
        add=["orders"],
    )


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """What a product card needs from the item as ordered (not the customer's quantity
    or total)."""
    return {k: item[k] for k in ("name", "url", "image_url", "price") if item.get(k)}


def recount_recent() -> int:
    """Set each product's ``orders_recent`` to its orders in the last
    ``RECOMMENDATIONS_BESTSELLER_DAYS`` days (whole UTC days, today included) and drop
    the days before; only changed rows are written. Returns how many changed."""
    window = get_setting("RECOMMENDATIONS_BESTSELLER_DAYS")
    since = history.day_of(clock.now()) - timedelta(days=window - 1)
    ProductDay.objects.filter(day__lt=since).delete()
    counts = dict(
        ProductDay.objects.values("sku").annotate(n=Sum("orders")).values_list("sku", "n")
    )
    current = dict(
        ProductStat.objects.filter(orders_recent__gt=0).values_list("sku", "orders_recent")
    )
    changed = {sku: n for sku, n in counts.items() if current.get(sku) != n}
    changed.update({sku: 0 for sku in current if sku not in counts})
    items = list(changed.items())
    for start in range(0, len(items), 500):
        chunk = dict(items[start : start + 500])
        ProductStat.objects.filter(sku__in=chunk).update(
            orders_recent=Case(
                *(When(sku=sku, then=Value(n)) for sku, n in chunk.items()),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    return len(changed)
