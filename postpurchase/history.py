"""The shop's order history as the app holds it (``order_placed`` events and their
snapshots), read for recommendations and replenishment: an order's lines, one contact's
orders, and walking new orders in batches with a cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Min, Model

from postpurchase import clock
from postpurchase.models import Event, HistoryCursor
from postpurchase.models.recommendations import CATEGORY_MAX_LENGTH, SKU_MAX_LENGTH
from postpurchase.segments import UNDONE

logger = logging.getLogger("postpurchase.history")

#: The event that is an order. Paid, shipped... are the same order again.
ORDER_EVENT = "order_placed"
#: A cursor walks events by id; an event whose id was taken by a transaction that
#: commits later (a slow checkout) would be passed over, so events younger than this
#: wait for the next run.
SETTLE = timedelta(minutes=5)


@dataclass(frozen=True)
class Line:
    """One product of an order (lines of the same SKU merged)."""

    sku: str
    name: str
    category: str
    quantity: int
    price: Decimal | None
    currency: str
    item: dict[str, Any]


def order_lines(snapshot: dict[str, Any]) -> list[Line]:
    """The order's products, one per SKU, in order. Items without a SKU, or with one
    longer than the tables hold, are left out (a cut SKU could be another product's)."""
    items = snapshot.get("items") if isinstance(snapshot, dict) else None
    currency = str(snapshot.get("currency") or "")[:8] if isinstance(snapshot, dict) else ""
    lines: dict[str, Line] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        sku = str(item.get("sku") or "").strip()
        if not sku or len(sku) > SKU_MAX_LENGTH:
            continue
        quantity = _quantity(item.get("qty"))
        if sku in lines:
            quantity += lines[sku].quantity
        lines[sku] = Line(
            sku=sku,
            name=str(item.get("name") or ""),
            category=str(item.get("category") or "")[:CATEGORY_MAX_LENGTH],
            quantity=quantity,
            price=decimal_or_none(item.get("price")),
            currency=currency,
            item=item,
        )
    return list(lines.values())


#: A line's quantity is read as at most this (a wholesale order, or a typo such as
#: 10^12): the tables' integer columns hold it summed over many orders.
QUANTITY_MAX = 10_000


def _quantity(value: Any) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return min(quantity, QUANTITY_MAX) if quantity > 0 else 1


#: ProductStat.price holds 18 digits, 4 after the point: a larger price (a typo, a
#: placeholder such as 1e20) would fail the whole batch's insert on PostgreSQL, and the
#: cursor would stop there for every order after it.
PRICE_LIMIT = Decimal(10) ** 14


def decimal_or_none(value: Any) -> Decimal | None:
    """A price as a Decimal; None for "on request", an empty value, a non-finite one or
    one too large for the tables."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= PRICE_LIMIT:
        return None
    return number


def orders_of(contact_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each contact's orders, oldest first: id, occurred_at, order_ref and snapshot. An
    order cancelled or refunded (an ``UNDONE`` event with its reference) is left out,
    as the segments leave it out."""
    found: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(contact_ids), 500):
        chunk = contact_ids[start : start + 500]
        undone = set(
            Event.objects.filter(contact_id__in=chunk, name__in=UNDONE)
            .exclude(order_ref="")
            .values_list("contact_id", "order_ref")
        )
        rows = (
            Event.objects.filter(contact_id__in=chunk, name=ORDER_EVENT)
            .order_by("occurred_at", "id")
            .values("contact_id", "id", "occurred_at", "order_ref", "snapshot")
        )
        for row in rows:
            contact_id = row.pop("contact_id")
            if (contact_id, row["order_ref"]) not in undone:
                found.setdefault(contact_id, []).append(row)
    return found


def first_signals(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events (dicts with id and order_ref) that are the first ``order_placed`` of
    their order: a shop may signal one order twice (a retried webhook, a re-save), in
    one batch or in a later one. Events without an order reference are all kept."""
    refs = sorted({e["order_ref"] for e in events if e["order_ref"]})
    first: dict[str, int] = {}
    for start in range(0, len(refs), 500):
        first.update(
            Event.objects.filter(name=ORDER_EVENT, order_ref__in=refs[start : start + 500])
            .values("order_ref")
            .annotate(first=Min("id"))
            .values_list("order_ref", "first")
        )
    return [e for e in events if not e["order_ref"] or first.get(e["order_ref"]) == e["id"]]


def advance(name: str, size: int, apply: Callable[[list[dict[str, Any]]], None]) -> int:
    """Hand the next ``size`` settled order events after cursor ``name`` to ``apply``
    (dicts with id, contact_id, occurred_at, order_ref, snapshot) and move the cursor
    past them, in one transaction: a failure moves nothing, and two runs at once take
    turns on the cursor's row lock. Returns how many events it took."""
    HistoryCursor.objects.get_or_create(name=name)
    with transaction.atomic():
        cursor = HistoryCursor.objects.select_for_update().get(name=name)
        events = list(
            Event.objects.filter(
                name=ORDER_EVENT, id__gt=cursor.position, created_at__lte=clock.now() - SETTLE
            )
            .order_by("id")
            .values("id", "contact_id", "occurred_at", "order_ref", "snapshot")[:size]
        )
        if not events:
            return 0
        apply(events)
        cursor.position = events[-1]["id"]
        cursor.save(update_fields=["position", "updated_at"])
    return len(events)


def catch_up(
    name: str, size: int, apply: Callable[[list[dict[str, Any]]], None], max_batches: int
) -> int:
    """``advance()`` until the events run out or ``max_batches`` batches are taken (a
    periodic job stays bounded; the rest waits for its next run)."""
    taken = 0
    for _ in range(max_batches):
        count = advance(name, size, apply)
        taken += count
        if count < size:
            break
    return taken


def rewind(name: str) -> None:
    """Start cursor ``name`` from the first event again (after its tables were emptied)."""
    HistoryCursor.objects.filter(name=name).update(position=0)


def upsert(
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    add: Iterable[str] = (),
    replace: Iterable[str] = (),
    latest: str | None = None,
) -> None:
    """Insert ``rows`` (dicts of field values) or, where a row with the same ``keys``
    exists, add the ``add`` fields to it and overwrite the ``replace`` fields; with
    ``latest`` (a datetime field) the replaced fields and ``latest`` itself change only
    when the new row is newer; with neither, an existing row is left as it is. One
    executemany ``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL), in the caller's
    transaction: Django's bulk_create compiles every value of every row first, which
    costs more than the insert."""
    if not rows:
        return
    add, replace = list(add), list(replace)
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = list(rows[0])
    fields = [meta.get_field(n) for n in names]
    column = {n: quote(meta.get_field(n).column) for n in names}
    newer = (
        f"{table}.{column[latest]} IS NULL OR excluded.{column[latest]} > {table}.{column[latest]}"
        if latest
        else ""
    )
    sets = [f"{column[n]} = {table}.{column[n]} + excluded.{column[n]}" for n in add]
    for n in [*replace, *([latest] if latest else [])]:
        value = f"excluded.{column[n]}"
        sets.append(
            f"{column[n]} = CASE WHEN {newer} THEN {value} ELSE {table}.{column[n]} END"
            if latest
            else f"{column[n]} = {value}"
        )
    sql = (
        f"INSERT INTO {table} ({', '.join(column[n] for n in names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))}) "
        f"ON CONFLICT ({', '.join(column[k] for k in keys)}) "
        + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    )
    pairs = list(zip(names, fields, strict=True))
    params = [[f.get_db_prep_save(row[n], connection) for n, f in pairs] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def day_of(moment: datetime) -> date:
    """The UTC day of a moment (the bestseller window counts whole UTC days)."""
    return moment.astimezone(UTC).date()
