"""Segments: what the app knows about a customer from its own order events, for the
customer checks of condition steps and trigger filters (number of orders, total spent
and average order per currency, categories and SKUs ever bought, the last order).

Everything comes from the ``order_placed`` events (their snapshots); an order with an
``order_cancelled`` or ``order_refunded`` event does not count. One query per customer,
bounded: the latest ``POSTPURCHASE["SEGMENT_MAX_ORDERS"]`` order events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from postpurchase.conf import get_setting
from postpurchase.models import Event

ORDER_PLACED = "order_placed"
#: Events that take an order out of the customer's history.
UNDONE = ("order_cancelled", "order_refunded")


@dataclass
class OrderHistory:
    """A customer's orders up to a moment."""

    count: int = 0
    #: currency (upper case, "" when the order had none) -> sum of the order totals
    spent: dict[str, Decimal] = field(default_factory=dict)
    #: currency -> how many orders with a total in it
    counted: dict[str, int] = field(default_factory=dict)
    categories: set[str] = field(default_factory=set)  # casefolded
    skus: set[str] = field(default_factory=set)
    last_order_at: datetime | None = None

    def total_spent(self, currency: str) -> Decimal:
        return self.spent.get(currency.strip().upper(), Decimal("0"))

    def average_order(self, currency: str) -> Decimal | None:
        """The average order total in ``currency``; None with no order in it."""
        key = currency.strip().upper()
        if not self.counted.get(key):
            return None
        return self.spent[key] / self.counted[key]


def number(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal (a number or its text), else None (booleans too)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def order_history(contact_id: int, now: datetime) -> OrderHistory:
    """The customer's order history from the events recorded up to ``now`` (one
    query)."""
    limit = get_setting("SEGMENT_MAX_ORDERS")
    rows = list(
        Event.objects.filter(
            contact_id=contact_id, name__in=(ORDER_PLACED, *UNDONE), occurred_at__lte=now
        )
        .order_by("-occurred_at", "-pk")
        .values_list("pk", "name", "order_ref", "snapshot", "occurred_at")[:limit]
    )
    undone = {ref for _pk, name, ref, _s, _at in rows if name in UNDONE and ref}
    history = OrderHistory()
    seen: set[str] = set()
    for pk, name, ref, snapshot, occurred_at in rows:
        key = ref or f"event:{pk}"
        if name != ORDER_PLACED or key in seen or ref in undone:
            continue
        seen.add(key)
        history.count += 1
        if history.last_order_at is None or occurred_at > history.last_order_at:
            history.last_order_at = occurred_at
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        total = number(snapshot.get("total"))
        if total is not None:
            currency = str(snapshot.get("currency") or "").strip().upper()
            history.spent[currency] = history.spent.get(currency, Decimal("0")) + total
            history.counted[currency] = history.counted.get(currency, 0) + 1
        items = snapshot.get("items")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("category"):
                history.categories.add(str(item["category"]).strip().casefold())
            if item.get("sku"):
                history.skus.add(str(item["sku"]).strip())
    return history
