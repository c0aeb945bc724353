"""Predicting when each contact needs a product again, and keeping it current."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from postpurchase import clock, history, signals
from postpurchase.engine.db import update_rows
from postpurchase.models import Contact, CycleSource, Event, HistoryCursor, PurchasedProduct
from postpurchase.replenishment.cycles import (
    INTERVALS_KEPT,
    MIN_INTERVAL_DAYS,
    Learned,
    category_setting,
    configured,
    learn,
)

logger = logging.getLogger("postpurchase.replenishment")

CURSOR = "replenishment"
PREDICT_CURSOR = "replenishment.predict"
#: Order events one step of the job takes (their contacts' orders are all read again).
EVENT_BATCH = 1000
MAX_BATCHES = 10
#: Predictions the job re-checks per run against the newly learned cycles.
REPREDICT_BATCH = 5000
#: The fields update_contact() and repredict() write.
FIELDS = [
    "name",
    "category",
    "item",
    "orders",
    "units",
    "last_quantity",
    "last_ordered_at",
    "last_order_ref",
    "intervals",
    "days_per_unit",
    "cycle_source",
    "predicted_on",
]


def local_zone(name: str):
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


#: A purchase that lasts longer than this has no useful date (and a date far enough on
#: overflows, which would stop the job for the whole batch).
HORIZON_DAYS = 36_500


def predicted_on(last: datetime, days_per_unit: float | None, quantity: int, zone) -> date | None:
    """The day (in the contact's time zone) the last purchase runs out; None if it
    lasts beyond HORIZON_DAYS."""
    if days_per_unit is None:
        return None
    days = days_per_unit * max(quantity, 1)
    if days > HORIZON_DAYS:
        return None
    return (last + timedelta(days=days)).astimezone(zone).date()


def purchases_of(orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per SKU, what a contact's orders (oldest first) say: counts, the last purchase
    (with its order's snapshot under "snapshot") and the days per unit between them."""
    purchases: dict[str, dict[str, Any]] = {}
    refs: set[str] = set()
    for order in orders:
        if order["order_ref"]:
            if order["order_ref"] in refs:
                continue  # the same order signalled again: its units count once
            refs.add(order["order_ref"])
        moment = order["occurred_at"]
        for line in history.order_lines(order["snapshot"]):
            seen = purchases.get(line.sku)
            if seen is None:
                purchases[line.sku] = seen = {"orders": 0, "units": 0, "intervals": []}
            else:
                days = (moment - seen["last_ordered_at"]).total_seconds() / 86400
                if days < MIN_INTERVAL_DAYS:
                    # One purchase split over two orders: its units last from the first.
                    seen["units"] += line.quantity
                    seen["last_quantity"] += line.quantity
                    seen["orders"] += 1
                    continue
                per_unit = round(days / seen["last_quantity"], 2)
                seen["intervals"] = [*seen["intervals"], per_unit][-INTERVALS_KEPT:]
            seen.update(
                name=line.name,
                category=line.category,
                item=line.item,
                last_quantity=line.quantity,
                last_ordered_at=moment,
                last_order_ref=order["order_ref"][:200],
                snapshot=order["snapshot"],
            )
            seen["orders"] += 1
            seen["units"] += line.quantity
    return purchases


def update_contact(contact_id: int) -> int:
    """Recompute one contact's purchased products and predictions (see update_contacts)."""
    return update_contacts([contact_id])


def update_contacts(contact_ids) -> int:
    """Recompute these contacts' purchased products and their predictions from their
    orders, a few queries for all of them; returns how many rows changed. Idempotent:
    the order receiver and the periodic job may both run it."""
    ids = list(dict.fromkeys(contact_ids))
    zones = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "timezone"))
    orders = history.orders_of(list(zones))
    per_contact = {cid: purchases_of(orders.get(cid, [])) for cid in zones}
    learned = Learned(
        {sku for bought in per_contact.values() for sku in bought},
        {p["category"] for bought in per_contact.values() for p in bought.values()},
    )
    for cid, bought in per_contact.items():
        zone = local_zone(zones[cid])
        for sku, seen in bought.items():
            days, source = configured(seen["item"], seen.pop("snapshot"), cid)
            if days is None:
                days, source = learned.cycle(sku, seen["category"])
            seen.update(
                days_per_unit=days,
                cycle_source=source,
                predicted_on=predicted_on(
                    seen["last_ordered_at"], days, seen["last_quantity"], zone
                ),
            )
    existing = {
        (p.contact_id, p.sku): p
        for p in PurchasedProduct.objects.filter(contact_id__in=list(zones))
    }
    new, changed = [], []
    for cid, bought in per_contact.items():
        for sku, seen in bought.items():
            row = existing.pop((cid, sku), None)
            if row is None:
                new.append({"contact_id": cid, "sku": sku, **seen})
            elif any(getattr(row, f) != seen[f] for f in FIELDS):
                moved = row.predicted_on != seen["predicted_on"]
                for f in FIELDS:
                    setattr(row, f, seen[f])
                changed.append((row, moved))
    with transaction.atomic():
        if existing:  # products no longer in the contact's orders (events deleted)
            PurchasedProduct.objects.filter(pk__in=[p.pk for p in existing.values()]).delete()
        # A receiver and the job racing on a new contact insert the same rows once.
        now = clock.now()
        history.upsert(
            PurchasedProduct,
            [{**row, "updated_at": now} for row in new],
            keys=["contact_id", "sku"],
        )
        update_rows([row for row, _ in changed], FIELDS)
        dated = {(row["contact_id"], row["sku"]) for row in new if row["predicted_on"]}
        announced = [r for r, moved in changed if moved]
        if dated:  # the new rows' ids, for the signal
            announced += [
                p
                for p in PurchasedProduct.objects.filter(
                    contact_id__in={c for c, _ in dated}, predicted_on__isnull=False
                )
                if (p.contact_id, p.sku) in dated
            ]
        announce(announced)
    return len(new) + len(changed) + len(existing)


def announce(rows: list[PurchasedProduct]) -> None:
    for row in rows:
        if row.predicted_on is not None:
            signals.emit(signals.replenishment_predicted, PurchasedProduct, prediction=row)


def repredict(limit: int = REPREDICT_BATCH) -> int:
    """Re-check the next ``limit`` predictions (a cursor that wraps around) against the
    learned cycles and the category setting; those configured for the product keep
    theirs until the contact's next order. Returns how many changed."""
    HistoryCursor.objects.get_or_create(name=PREDICT_CURSOR)
    with transaction.atomic():
        cursor = HistoryCursor.objects.select_for_update().get(name=PREDICT_CURSOR)
        rows = list(
            PurchasedProduct.objects.filter(pk__gt=cursor.position)
            .exclude(cycle_source=CycleSource.CONFIGURED)
            .select_related("contact")
            .only(*FIELDS, "sku", "contact_id", "contact__timezone")
            .order_by("pk")[:limit]
        )
        cursor.position = rows[-1].pk if len(rows) == limit else 0
        cursor.save(update_fields=["position", "updated_at"])
        learned = Learned({r.sku for r in rows}, {r.category for r in rows})
        changed = []
        for row in rows:
            days, source = category_setting(row.category)
            if days is None:
                days, source = learned.cycle(row.sku, row.category)
            when = predicted_on(
                row.last_ordered_at, days, row.last_quantity, local_zone(row.contact.timezone)
            )
            if (row.days_per_unit, row.cycle_source, row.predicted_on) != (days, source, when):
                moved = row.predicted_on != when
                row.days_per_unit, row.cycle_source, row.predicted_on = days, source, when
                changed.append((row, moved))
        update_rows([row for row, _ in changed], ["days_per_unit", "cycle_source", "predicted_on"])
        announce([row for row, moved in changed if moved])
    return len(changed)


def _apply(events: list[dict[str, Any]]) -> None:
    """Recompute the batch's contacts, except those with a later order: the cursor
    reaches it in a later batch, so each contact is read once in a catch-up through
    the whole history."""
    contacts = {e["contact_id"] for e in events}
    later = set(
        Event.objects.filter(
            contact_id__in=contacts, name=history.ORDER_EVENT, id__gt=events[-1]["id"]
        ).values_list("contact_id", flat=True)
    )
    update_contacts(sorted(contacts - later))


def refresh(max_batches: int = MAX_BATCHES) -> int:
    """The periodic job: take in orders the after-commit receiver missed (it failed, or
    they came before the app was installed), learn the cycles again, and re-check a
    batch of predictions against them. Returns the number of orders and predictions
    that were looked at."""
    taken = history.catch_up(CURSOR, EVENT_BATCH, _apply, max_batches)
    learn()
    return taken + repredict()


def on_event_tracked(sender, event=None, **kwargs) -> None:
    """After an order commits (or is cancelled or refunded): predict for its contact at
    once. A failure is logged with the ids and left to the periodic job; it never
    reaches the shop's checkout."""
    if event is None or event.name not in (history.ORDER_EVENT, *history.UNDONE):
        return
    try:
        update_contact(event.contact_id)
    except Exception:
        logger.exception(
            "postpurchase: replenishment for contact %s after event %s failed; the "
            "periodic job retries it",
            event.contact_id,
            event.pk,
        )


def connect() -> None:
    signals.event_tracked.connect(
        on_event_tracked, weak=False, dispatch_uid="postpurchase.replenishment"
    )
