"""The date-trigger scan: the periodic job that fires the due occurrences as events."""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice

from django.db import IntegrityError, transaction

from postpurchase import clock
from postpurchase.conf import get_setting
from postpurchase.engine.enrollment import record_event
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
    for trigger, days in scanned_triggers():
        found = iter(trigger.finder(now, days, 0, size))
        while chunk := list(islice(found, size)):
            fired += fire(trigger.name, chunk, now)
        logger.info("postpurchase: date trigger %s (%s days) scanned", trigger.name, days)
    return fired


def fire(name: str, occurrences: list[Occurrence], now: datetime) -> int:
    """Record the occurrences not recorded yet as ``name`` events (each in its own
    transaction, so its enrollments start at once); returns how many were new."""
    keys = [o.key for o in occurrences]
    done = set(Event.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    fresh = [o for o in occurrences if o.key not in done]
    if not fresh:
        return 0
    contacts = Contact.objects.in_bulk([o.contact_id for o in fresh])
    recorded = 0
    for occurrence in fresh:
        contact = contacts.get(occurrence.contact_id)
        if contact is None:
            continue  # deleted since the finder read it
        data = dict(occurrence.payload)
        due_at = data.pop("due_at", None) or now
        snapshot = data.pop("order", None) or {}
        order_ref = data.pop("order_ref", None) or ""
        try:
            with transaction.atomic():
                record_event(
                    name,
                    contact,
                    ref=occurrence.key,
                    order_ref=order_ref,
                    data=data,
                    snapshot=snapshot,
                    occurred_at=min(due_at, now),
                    dedupe_key=occurrence.key,
                )
        except IntegrityError:
            # Another scan recorded it between our check and the insert.
            logger.debug("postpurchase: occurrence %s already recorded", occurrence.key)
            continue
        recorded += 1
    return recorded
