"""Recording events, enrolling contacts in matching flows, and exiting flows."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction

from postpurchase import clock, consent, signals
from postpurchase.adapters import contact_details
from postpurchase.dataprotection import suppression
from postpurchase.engine.dispatch import wake_on_commit
from postpurchase.flows.trigger_filters import passes as passes_filter
from postpurchase.models import Contact, DelayStep, Enrollment, Event, Flow, normalize_email

logger = logging.getLogger("postpurchase.engine")


def upsert_contact(email: str, details: dict[str, Any] | None = None, user: Any = None) -> Contact:
    """Get or create the contact for ``email`` and refresh its names, locale, time
    zone, birthday, attributes (merged key by key) and shop user (the latest order
    wins; no ``user`` keeps the one it has). A value Contact cannot hold is normalised
    or left out with a warning naming the field (see ``adapters.contact_details``).
    ``details["marketing_consent"]`` (the shop's checkout checkbox) is recorded in the
    consent history (``consent.parse_shop_consent``). A new contact whose address was
    erased is created suppressed."""
    address = normalize_email(email)
    details = details or {}
    updates = contact_details(details)
    given = consent.parse_shop_consent(details.get("marketing_consent"))
    contact, created = Contact.objects.get_or_create(
        email=address, defaults={**updates, "user": user}
    )
    if created:
        # An erased customer who comes back is not mailed until staff lift the block.
        suppression.block_if_erased(contact)
    else:
        if "attributes" in updates:
            # Attributes merge: an order that names only the city keeps the age band.
            updates["attributes"] = {**(contact.attributes or {}), **updates["attributes"]}
        changed = {f: v for f, v in updates.items() if getattr(contact, f) != v}
        if user is not None and contact.user_id != user.pk:
            changed["user"] = user
        if changed:
            for f, v in changed.items():
                setattr(contact, f, v)
            contact.save(update_fields=[*changed, "updated_at"])
    if given is not None:
        consent.apply_shop_consent(contact, given)
    return contact


def record_event(
    name: str,
    contact: Contact,
    *,
    ref: str = "",
    order_ref: str = "",
    data: dict[str, Any] | None = None,
    snapshot: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> Event:
    """Store an event, exit the flows it ends and enroll the contact in flows it starts.
    ``dedupe_key`` (a date trigger's occurrence) is unique: a second event with it
    raises IntegrityError, so run this in a savepoint to skip duplicates."""
    event = Event.objects.create(
        contact=contact,
        dedupe_key=dedupe_key,
        name=name,
        ref=ref,
        order_ref=order_ref,
        data=data or {},
        snapshot=snapshot or {},
        occurred_at=occurred_at or clock.now(),
    )
    signals.emit(signals.event_tracked, Event, event=event)
    exit_for_event(event)
    wake_event_waiters(event)
    enroll(event)
    return event


def record_events(events: list[Event]) -> list[Event]:
    """``record_event`` for many unsaved events of one name at once (the date-trigger
    scan): one insert, then exits, wake-ups and enrollments a statement per flow rather
    than a few per event. Raises IntegrityError if a ``dedupe_key`` exists already (run
    it in a savepoint and fall back to ``record_event`` one by one)."""
    if not events:
        return []
    name = events[0].name
    Event.objects.bulk_create(events)
    if not all(e.pk for e in events):  # a database that returns no ids: one by one
        raise IntegrityError("bulk insert returned no ids")
    for event in events:
        signals.emit(signals.event_tracked, Event, event=event)
    exits = [
        f
        for f in Flow.objects.exclude(status=Flow.Status.DRAFT).only("exit_events")
        if name in (f.exit_events or [])
    ]
    waiting = DelayStep.objects.filter(relative_to=DelayStep.RelativeTo.EVENT, event_name=name)
    if exits or waiting.exists():
        for event in events:
            exit_for_event(event)
            wake_event_waiters(event)
    enroll_many(events)
    return events


def enroll_many(events: list[Event]) -> list[Enrollment]:
    """``enroll`` for many events of one name: one insert per flow (duplicates of a
    dedupe key skipped by the database). A flow with a re-entry period enrolls one
    event at a time, as ``enroll`` does (it locks the contact)."""
    created: list[Enrollment] = []
    woken: list[int] = []  # enroll() wakes its own
    if not events:
        return created
    name = events[0].name
    erased = [e for e in events if e.contact.suppression_reason == suppression.REASON]
    for event in erased:
        logger.info("contact %s is on the erased list: not enrolled", event.contact_id)
    events = [e for e in events if e.contact.suppression_reason != suppression.REASON]
    for flow in Flow.objects.filter(trigger=name, status=Flow.Status.LIVE):
        if flow.reentry == Flow.Reentry.ONCE_PER_PERIOD:
            for event in events:
                created.extend(enroll(event, flows=[flow]))
            continue
        first = flow.steps.order_by("position", "id").non_polymorphic().first()
        fresh = [new_enrollment(flow, event, first) for event in events if enrolls(flow, event)]
        if not fresh:
            continue
        Enrollment.objects.bulk_create(fresh, ignore_conflicts=True)
        # The rows this call inserted are those whose trigger is one of our new events.
        ours = Enrollment.objects.filter(
            flow=flow, trigger_event_id__in=[e.trigger_event_id for e in fresh]
        ).select_related("contact", "trigger_event")
        for enrollment in ours:
            created.append(enrollment)
            woken.append(enrollment.pk)
            signals.emit(signals.enrolled, Enrollment, enrollment=enrollment)
    if woken:
        wake_on_commit(woken)
    return created


def wake_event_waiters(event: Event) -> int:
    """Make the contact's enrollments that wait at a DelayStep for this event due now,
    so they go on at once instead of at their next poll. The step itself decides
    whether the event counts (same order, after the start)."""
    waiting = DelayStep.objects.filter(
        relative_to=DelayStep.RelativeTo.EVENT, event_name=event.name
    ).values("pk")
    woken = list(
        Enrollment.objects.filter(
            contact=event.contact, status=Enrollment.Status.ACTIVE, step_id__in=waiting
        ).values_list("pk", flat=True)
    )
    if woken:
        Enrollment.objects.filter(pk__in=woken, status=Enrollment.Status.ACTIVE).update(
            due_at=clock.now()
        )
        wake_on_commit(woken)
    return len(woken)


def dedupe_key(flow: Flow, event: Event) -> str:
    if flow.reentry == Flow.Reentry.ONCE_PER_CONTACT:
        return f"contact:{event.contact_id}"
    if flow.reentry == Flow.Reentry.ONCE_PER_PERIOD:
        # Unique per event; the period itself is checked by enrolled_within_period().
        return f"period:{event.contact_id}:{event.pk}"
    if flow.reentry == Flow.Reentry.ONCE_PER_ORDER:
        if event.order_ref:
            return f"order:{event.order_ref}"
        if event.ref:
            # No order (e.g. a review without one): once per the thing the event is
            # about, so the same review signalled twice enrolls once.
            return f"ref:{event.ref}"
    # Every time, or once per order for an event with neither an order nor a ref: the
    # event is the key.
    return f"event:{event.pk}"


def enrolls(flow: Flow, event: Event) -> bool:
    """Does this trigger event enroll in ``flow``: its days (a date trigger's event for
    another number of days does not) and its trigger filter."""
    if flow.trigger_days is not None and event.data.get("days") != flow.trigger_days:
        return False
    return passes_filter(flow, event.snapshot, event.contact, event.data)


def new_enrollment(flow: Flow, event: Event, first: Any) -> Enrollment:
    """The unsaved enrollment ``event`` starts in ``flow``, at its ``first`` step."""
    return Enrollment(
        flow=flow,
        contact=event.contact,
        trigger_event=event,
        dedupe_key=dedupe_key(flow, event),
        order_ref=event.order_ref,
        snapshot=event.snapshot,
        step=first,
        step_entered_at=event.occurred_at,
        triggered_at=event.occurred_at,
        due_at=event.occurred_at,
    )


def enroll(event: Event, flows: Any = None) -> list[Enrollment]:
    """Enroll the event's contact in every live flow it triggers (or in ``flows``, a
    list of them); idempotent per dedupe key.

    Returns the enrollments this call created. Their first steps run right after the
    surrounding transaction commits.
    """
    created: list[Enrollment] = []
    if event.contact.suppression_reason == suppression.REASON:
        logger.info("contact %s is on the erased list: not enrolled", event.contact_id)
        return created
    if flows is None:
        flows = Flow.objects.filter(trigger=event.name, status=Flow.Status.LIVE)
    for flow in flows:
        if not enrolls(flow, event):
            continue
        first = flow.steps.order_by("position", "id").non_polymorphic().first()
        enrollment = new_enrollment(flow, event, first)
        try:
            # A savepoint, so a duplicate does not break the caller's transaction; on
            # PostgreSQL a concurrent insert of the same key waits here for the other.
            with transaction.atomic():
                if flow.reentry == Flow.Reentry.ONCE_PER_PERIOD and enrolled_within_period(
                    flow, event
                ):
                    logger.debug(
                        "contact %s was enrolled in flow %s within its period",
                        event.contact_id,
                        flow.pk,
                    )
                    continue
                enrollment.save(force_insert=True)
        except IntegrityError:
            logger.debug(
                "contact %s already enrolled in flow %s (%s)",
                event.contact_id,
                flow.pk,
                enrollment.dedupe_key,
            )
            continue
        created.append(enrollment)
        signals.emit(signals.enrolled, Enrollment, enrollment=enrollment)
    if created:
        wake_on_commit([e.pk for e in created])
    return created


def enrolled_within_period(flow: Flow, event: Event) -> bool:
    """Has the contact an enrollment in ``flow`` triggered less than ``reentry_days``
    before (or after: events may be recorded late) this event?

    A period key such as floor(days / N) would let two enrollments a minute apart
    straddle a boundary, so the period is checked against real enrollments instead.
    The contact's row is locked first (FOR UPDATE where the database has it), so two
    concurrent events of one contact enroll one after the other and the second sees the
    first. Residual race: at REPEATABLE READ (MySQL's default) the second transaction
    may read a snapshot older than the first's commit and enroll too.
    """
    days = flow.reentry_days or 0
    if days <= 0:
        return False
    if connection.features.has_select_for_update:
        list(Contact.objects.select_for_update().filter(pk=event.contact_id).values("pk"))
    period = timedelta(days=days)
    return Enrollment.objects.filter(
        flow=flow,
        contact_id=event.contact_id,
        triggered_at__gt=event.occurred_at - period,
        triggered_at__lt=event.occurred_at + period,
    ).exists()


def exit_for_event(event: Event) -> int:
    """End the contact's active enrollments in flows that list this event as an exit.

    An event about an order (cancelled, refunded) ends only that order's enrollments;
    an event without an order, or an enrollment without one, ends regardless.
    """
    flows = [
        f.pk
        for f in Flow.objects.exclude(status=Flow.Status.DRAFT).only("pk", "exit_events")
        if event.name in (f.exit_events or [])
    ]
    if not flows:
        return 0
    candidates = Enrollment.objects.filter(
        contact=event.contact, flow_id__in=flows, status=Enrollment.Status.ACTIVE
    )
    ended = 0
    reason = f"event:{event.name}"
    for enrollment in candidates:
        if event.order_ref and enrollment.order_ref and enrollment.order_ref != event.order_ref:
            continue
        # Conditional update: a worker that holds this enrollment will find it no longer
        # active and leave it alone.
        updated = Enrollment.objects.filter(
            pk=enrollment.pk, status=Enrollment.Status.ACTIVE
        ).update(
            status=Enrollment.Status.EXITED,
            exit_reason=reason,
            finished_at=event.occurred_at,
            due_at=None,
        )
        if updated:
            ended += 1
            enrollment.status = Enrollment.Status.EXITED
            enrollment.exit_reason = reason
            signals.emit(
                signals.enrollment_exited, Enrollment, enrollment=enrollment, reason=reason
            )
    return ended


def retry(enrollment: Enrollment) -> bool:
    """Put a failed (or exited) enrollment back to work at the step it stopped on, due
    now; its failed email is tried again. Returns False if it had finished normally."""
    if enrollment.status in (Enrollment.Status.ACTIVE, Enrollment.Status.COMPLETED):
        return False
    now = clock.now()
    updated = Enrollment.objects.filter(pk=enrollment.pk, status=enrollment.status).update(
        status=Enrollment.Status.ACTIVE,
        due_at=now,
        finished_at=None,
        exit_reason="",
        attempts=0,
        lease_token=None,
        lease_expires_at=None,
    )
    if updated:
        enrollment.refresh_from_db()
        wake_on_commit([enrollment.pk])
    return bool(updated)


def exit_enrollment(enrollment: Enrollment, reason: str = "exited by staff") -> bool:
    """End an active enrollment now (nothing more is sent)."""
    updated = Enrollment.objects.filter(pk=enrollment.pk, status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.EXITED,
        exit_reason=reason[:200],
        finished_at=clock.now(),
        due_at=None,
    )
    if updated:
        enrollment.refresh_from_db()
        signals.emit(signals.enrollment_exited, Enrollment, enrollment=enrollment, reason=reason)
    return bool(updated)
