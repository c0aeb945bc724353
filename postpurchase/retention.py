"""Retention: MessageEvents and old Events are deleted after the number of days in
``POSTPURCHASE["RETENTION"]``, a bounded number of small batches per run.

What stays: Messages (the reports and the health monitor read their roll-ups:
delivered_at, bounced_at, complained_at, opens, clicks...), enrollments, contacts and
their suppression. Events of a contact who is still in a running enrollment are kept
whatever their age: the flow's steps read them (a delay waiting for an event, "ordered
again", the trigger event's data in templates and staff emails).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet

from postpurchase import clock
from postpurchase.conf import retention_setting
from postpurchase.models import Conversion, Enrollment, Event, Message, MessageEvent

logger = logging.getLogger("postpurchase.retention")


#: What points at each purged model, and what the purge does about it before deleting
#: (tests/monitoring/test_retention.py checks this list against the models' relations).
UNLINK: dict[type[Model], list[tuple[type[Model], str]]] = {
    MessageEvent: [],
    # A finished enrollment keeps its history without its trigger event (SET_NULL).
    # A conversion keeps its figures without the order event it came from (SET_NULL).
    Event: [(Enrollment, "trigger_event"), (Conversion, "event")],
}


def in_batches(
    queryset: QuerySet, batch_size: int, max_batches: int, act: Callable[[QuerySet], int]
) -> int:
    """Run ``act`` on the rows of ``queryset`` lowest primary keys first, on at most
    ``batch_size`` rows at a time (a primary-key range that re-checks the queryset's
    conditions), for at most ``max_batches`` batches. Returns the sum of what ``act``
    returned. Safe to run twice at once: a row the other run handled no longer matches."""
    done = 0
    for _batch in range(max_batches):
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        count = act(queryset.filter(pk__gte=pks[0], pk__lte=pks[-1]).order_by())
        done += count
        logger.info(
            "postpurchase: %s: %s %s rows up to id %s",
            act.__name__,
            count,
            queryset.model._meta.label,
            pks[-1],
        )
        if len(pks) < batch_size:
            break
    return done


def _delete(batch: QuerySet) -> int:
    """The rows are not loaded: Django's ``delete()`` would fetch each one (the app has a
    ``pre_delete`` receiver for steps, which turns off Django's fast delete for every
    model), so the references in ``UNLINK`` are cleared with one ``UPDATE`` and the
    range deleted with one ``DELETE``, in one transaction."""
    with transaction.atomic(using=batch.db):
        for related, field in UNLINK[batch.model]:
            related.objects.filter(**{f"{field}__in": batch.values("pk")}).update(**{field: None})
        return batch._raw_delete(batch.db)


def purge_in_batches(queryset: QuerySet, batch_size: int, max_batches: int) -> int:
    """Delete the rows of ``queryset`` in bounded batches (see :func:`in_batches`);
    returns how many rows went."""
    return in_batches(queryset, batch_size, max_batches, _delete)


def expired_message_events() -> QuerySet | None:
    days = retention_setting("MESSAGE_EVENTS_DAYS")
    if days is None:
        return None
    return MessageEvent.objects.filter(occurred_at__lt=clock.now() - timedelta(days=days))


def expired_events() -> QuerySet | None:
    days = retention_setting("EVENTS_DAYS")
    if days is None:
        return None
    # NOT EXISTS, correlated on the contact (the enrollments' (contact, status) index):
    # "NOT IN (the running enrollments' contacts)" is re-scanned for every old event
    # once that list outgrows work_mem (300,000 running: 50 s per batch, not 3 ms).
    running = Enrollment.objects.filter(
        contact_id=OuterRef("contact_id"), status=Enrollment.Status.ACTIVE
    )
    return Event.objects.filter(
        ~Exists(running), occurred_at__lt=clock.now() - timedelta(days=days)
    )


def expired_message_addresses() -> QuerySet | None:
    """Messages past MESSAGE_ADDRESSES_DAYS that still hold an address or a subject, of
    enrollments that are no longer running (a running one may still resend them)."""
    days = retention_setting("MESSAGE_ADDRESSES_DAYS")
    if days is None:
        return None
    return (
        Message.objects.filter(created_at__lt=clock.now() - timedelta(days=days))
        .exclude(to_email="", subject="")
        .exclude(enrollment__status=Enrollment.Status.ACTIVE)
    )


def _blank_addresses(batch: QuerySet) -> int:
    return batch.update(to_email="", subject="")


def scrub_in_batches(queryset: QuerySet, batch_size: int, max_batches: int) -> int:
    """Blank the address and subject of the messages of ``queryset`` in bounded batches
    (see :func:`in_batches`); returns how many."""
    return in_batches(queryset, batch_size, max_batches, _blank_addresses)


def purge_expired() -> int:
    """The periodic job: delete expired MessageEvents and Events and blank expired
    message addresses, a bounded amount per run (MAX_BATCHES of BATCH_SIZE per table);
    returns how many rows went or were blanked."""
    batch_size = retention_setting("BATCH_SIZE")
    max_batches = retention_setting("MAX_BATCHES")
    deleted = 0
    for queryset in (expired_message_events(), expired_events()):
        if queryset is not None:
            deleted += purge_in_batches(queryset, batch_size, max_batches)
    addresses = expired_message_addresses()
    if addresses is not None:
        deleted += scrub_in_batches(addresses, batch_size, max_batches)
    return deleted
