"""The date-trigger scan: the periodic job that fires the due occurrences as events."""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice

from django.db import IntegrityError, transaction

from postpurchase import clock
from postpurchase.conf import get_setting
from postpurchase.engine.enrollment import record_event, record_events
from postpurchase.lifecycle.registry import DateTrigger, Occurrence, date_triggers
from postpurchase.models import Contact, Event, Flow

logger = logging.getLogger("postpurchase.lifecycle")


def scanned_triggers() -> list[tuple[DateTrigger, int]]:
    """(trigger, days) for every date trigger and parameter a live flow uses."""
    triggers = date_triggers()
    pairs = (
        Flow.objects.filter(status=Flow.Status.LIVE, trigger__in=triggers)
        .exclude(trigger_days=None)
        .order_by("trigger", "trigger_days")
        .values_list("trigger", "trigger_days")
        .distinct()
    )
    return [(triggers[name], days) for name, days in pairs]


def scan_date_triggers(now: datetime | None = None, batch_size: int | None = None) -> int:
    """Fire every due occurrence of the date triggers that live flows use, as events
    (idempotent: an occurrence already recorded is skipped). Returns how many events it
    recorded. The periodic job "date triggers" runs it."""
    now = now or clock.now()
    size = batch_size or get_setting("LIFECYCLE_BATCH_SIZE")
    fired = 0
    failed: Exception | None = None
    for trigger, days in scanned_triggers():
        try:
            found = iter(trigger.finder(now, days, 0, size))
            while chunk := list(islice(found, size)):
                fired += fire(trigger.name, chunk, now)
        except Exception as exc:
            # One trigger's failure (a custom finder's bug) must not keep the others'
            # customers waiting: log it, go on, and raise it once the rest are done.
            logger.exception("postpurchase: date trigger %s (%s days) failed", trigger.name, days)
            failed = failed or exc
            continue
        logger.info("postpurchase: date trigger %s (%s days) scanned", trigger.name, days)
    if failed is not None:
        raise failed
    return fired


def fire(name: str, occurrences: list[Occurrence], now: datetime) -> int:
    """Record the occurrences not recorded yet as ``name`` events, in one transaction:
    one insert for the chunk (``record_events``), one commit, and the enrollments they
    start are woken when it commits. If another scan recorded one of them meanwhile
    (the unique ``dedupe_key``), the chunk goes one event at a time, skipping those.
    Returns how many were new."""
    keys = [o.key for o in occurrences]
    done = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    fresh = [o for o in occurrences if o.key not in done]
    if not fresh:
        return 0
    contacts = Contact.objects.in_bulk([o.contact_id for o in fresh])
    events = [
        _event(name, o, contacts[o.contact_id], now) for o in fresh if o.contact_id in contacts
    ]
    try:
        with transaction.atomic():
            return len(record_events(events))
    except IntegrityError:
        logger.debug("postpurchase: a concurrent scan recorded some of %s; one by one", name)
    recorded = 0
    for event in events:
        try:
            with transaction.atomic():
                record_event(
                    name,
                    event.contact,
                    ref=event.ref,
                    order_ref=event.order_ref,
                    data=event.data,
                    snapshot=event.snapshot,
                    occurred_at=event.occurred_at,
                    dedupe_key=event.dedupe_key,
                )
        except IntegrityError:
            continue  # recorded by the other scan
        recorded += 1
    return recorded


def _event(name: str, occurrence: Occurrence, contact: Contact, now: datetime) -> Event:
    """The unsaved event of an occurrence (see the payload's keys in the package)."""
    data = dict(occurrence.payload)
    due_at = data.pop("due_at", None) or now
    return Event(
        contact=contact,
        name=name,
        ref=occurrence.key,
        order_ref=data.pop("order_ref", None) or "",
        snapshot=data.pop("order", None) or {},
        data=data,
        occurred_at=min(due_at, now),
        dedupe_key=occurrence.key,
    )
