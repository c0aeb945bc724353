"""The ``replenishment_due`` date trigger's finder: contacts whose product runs out
soon, in batches after a contact id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from postpurchase.conf import get_setting
from postpurchase.models import PurchasedProduct
from postpurchase.replenishment.predict import local_zone

EVENT = "replenishment_due"
_FIELDS = (
    "id",
    "contact_id",
    "contact__timezone",
    "sku",
    "name",
    "category",
    "item",
    "last_quantity",
    "last_ordered_at",
    "last_order_ref",
    "days_per_unit",
    "cycle_source",
    "predicted_on",
)


def due(
    now: datetime, after: int | None = None, limit: int = 500, lead_days: int | None = None
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(contact id, occurrence key, payload) for each product a contact will need again
    within ``lead_days`` (default ``REPLENISHMENT_LEAD_DAYS``) days: from that many days
    before the predicted
    date to the date itself, in the contact's time zone. Contacts come in id order after
    ``after`` (the last contact id of the previous batch); a batch holds at least
    ``limit`` results when that many are left, and never splits one contact's. The key
    names the prediction (the product's row and the purchase it runs from), so each
    fires once however often the scan runs; a new order of the product makes a new one.
    """
    lead = get_setting("REPLENISHMENT_LEAD_DAYS") if lead_days is None else lead_days
    utc_today = now.date()
    # A day either side of UTC's: the contact's local date may differ from it.
    rows = PurchasedProduct.objects.filter(
        predicted_on__gte=utc_today - timedelta(days=1),
        predicted_on__lte=utc_today + timedelta(days=lead + 1),
    ).order_by("contact_id", "id")
    found = 0
    last = after or 0
    while found < limit:
        batch = list(rows.filter(contact_id__gt=last).values(*_FIELDS)[:limit])
        if not batch:
            return
        last = batch[-1]["contact_id"]
        if len(batch) == limit:  # the rest of the last contact's rows
            batch += rows.filter(contact_id=last, id__gt=batch[-1]["id"]).values(*_FIELDS)
        for row in batch:
            today = now.astimezone(local_zone(row["contact__timezone"])).date()
            if row["predicted_on"] - timedelta(days=lead) <= today <= row["predicted_on"]:
                found += 1
                yield row["contact_id"], occurrence_key(row), payload(row)
        if len(batch) < limit:
            return


def occurrence_key(row: dict[str, Any]) -> str:
    return f"{row['id']}:{int(row['last_ordered_at'].timestamp())}"


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """What the event carries (templates see it as ``event``)."""
    item = row["item"] or {}
    return {
        "product": {
            "sku": row["sku"],
            "name": row["name"],
            "category": row["category"],
            **{k: item[k] for k in ("url", "image_url", "price") if item.get(k)},
        },
        "predicted_on": row["predicted_on"].isoformat(),
        "quantity": row["last_quantity"],
        "days_per_unit": row["days_per_unit"],
        "cycle_source": row["cycle_source"],
        "last_ordered_at": row["last_ordered_at"].isoformat(),
        "order_ref": row["last_order_ref"],
    }
