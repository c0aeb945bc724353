"""Attribution: an order placed (or a flow's goal event) by a contact shortly after a
human click on one of the flow emails they got is a conversion of that email, its step
and its flow. The last touch before the event wins; an order counts once.

Runs after the shop's transaction commits (a receiver of ``event_tracked``); a failure
here is logged and never reaches the shop's checkout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from postpurchase import clock, signals
from postpurchase.conf import get_setting
from postpurchase.models import Conversion, Event, Flow, Message, MessageEvent

logger = logging.getLogger("postpurchase.analytics")

#: The event whose orders count as conversions with revenue.
ORDER_EVENT = "order_placed"
#: The periodic pass looks this far back for orders (and goal events) nothing was
#: attributed to: the ESP may post a click after the order it led to was recorded.
LATE_TOUCH_HOURS = 6
#: At most this many events per pass (the oldest first); the next pass goes on.
LATE_TOUCH_BATCH = 500

Touch = Conversion.Touch


@dataclass(frozen=True, order=True)
class LastTouch:
    """The latest human click or open of one email. Ordered by time; at the same time a
    click beats an open."""

    at: datetime
    is_click: bool
    message_id: Any


def windows() -> list[tuple[str, timedelta]]:
    """The touches that attribute, with their windows (a window of 0 days is off)."""
    found = []
    for touch, key in (
        (Touch.CLICK, "ATTRIBUTION_CLICK_DAYS"),
        (Touch.OPEN, "ATTRIBUTION_OPEN_DAYS"),
    ):
        days = get_setting(key)
        if days:
            found.append((touch, timedelta(days=days)))
    return found


def last_touch(contact_id: int, at: datetime, flow_id: int | None = None) -> LastTouch | None:
    """The contact's latest human click (or open, if its window is on) of a flow email
    (of ``flow_id`` only, if given) within its window before ``at``.

    Each message's first human click / open is on the message (``clicked_at``,
    ``opened_at``, kept for good); later ones are read from the MessageEvents still kept
    (retention may have purged them: then the first one counts)."""
    messages = Message.objects.filter(contact_id=contact_id)
    if flow_id is not None:
        messages = messages.filter(enrollment__flow_id=flow_id)
    best: LastTouch | None = None
    for touch, window in windows():
        since = at - window
        field = "clicked_at" if touch == Touch.CLICK else "opened_at"
        kind = MessageEvent.Kind.CLICKED if touch == Touch.CLICK else MessageEvent.Kind.OPENED
        firsts = messages.filter(**{f"{field}__gt": since, f"{field}__lte": at}).values_list(
            "pk", field
        )
        later = MessageEvent.objects.filter(
            message__in=messages.values("pk"),
            kind=kind,
            machine=False,
            occurred_at__gt=since,
            occurred_at__lte=at,
        ).values_list("message_id", "occurred_at")
        for message_id, when in [*firsts, *later]:
            candidate = LastTouch(when, touch == Touch.CLICK, message_id)
            if best is None or (candidate.at, candidate.is_click) > (best.at, best.is_click):
                best = candidate
    return best


def order_revenue(snapshot: dict[str, Any]) -> tuple[Decimal | None, str]:
    """The order's total and currency from its snapshot (None when it has no usable
    total: the conversion still counts)."""
    currency = snapshot.get("currency")
    currency = currency.strip().upper()[:3] if isinstance(currency, str) else ""
    total = snapshot.get("total")
    if total is None or isinstance(total, bool) or total == "":
        return None, currency
    try:
        value = Decimal(str(total))
    except (InvalidOperation, ValueError):
        return None, currency
    if not value.is_finite() or abs(value) >= Decimal(10) ** 15:
        return None, currency
    return value.quantize(Decimal("0.0001")), currency


def _subject(event: Event) -> str:
    return event.order_ref or event.ref or f"event:{event.pk}"


def attribute(event: Event) -> list[Conversion]:
    """Record the conversions ``event`` makes: an order conversion for an order placed,
    and a goal conversion for each flow whose goal it is. Idempotent: the same order (or
    goal) again records nothing. Returns the conversions recorded now."""
    recorded: list[Conversion] = []
    if event.name == ORDER_EVENT:
        key = f"order:{event.order_ref}" if event.order_ref else f"event:{event.pk}"
        touch = last_touch(event.contact_id, event.occurred_at)
        if touch is not None:
            revenue, currency = order_revenue(event.snapshot or {})
            found = _record(event, Conversion.Kind.ORDER, key, touch, revenue, currency)
            recorded += [found] if found else []
    goal_flows = Flow.objects.filter(goal_event=event.name).values_list("pk", flat=True)
    for flow_id in goal_flows:
        touch = last_touch(event.contact_id, event.occurred_at, flow_id=flow_id)
        if touch is None:
            continue
        key = f"goal:{flow_id}:{event.name}:{_subject(event)}"
        found = _record(event, Conversion.Kind.GOAL, key[:255], touch, None, "")
        recorded += [found] if found else []
    return recorded


def _record(
    event: Event,
    kind: str,
    key: str,
    touch: LastTouch,
    revenue: Decimal | None,
    currency: str,
) -> Conversion | None:
    if Conversion.objects.filter(key=key).exists():
        return None
    message = (
        Message.objects.select_related("enrollment")
        .only("pk", "step_id", "contact_id", "sent_at", "created_at", "enrollment__flow_id")
        .get(pk=touch.message_id)
    )
    conversion = Conversion(
        kind=kind,
        key=key,
        event=event,
        message=message,
        flow_id=message.enrollment.flow_id,
        step_id=message.step_id,
        contact_id=event.contact_id,
        event_name=event.name,
        order_ref=event.order_ref,
        touch=Touch.CLICK if touch.is_click else Touch.OPEN,
        touched_at=touch.at,
        revenue=revenue,
        currency=currency,
        occurred_at=event.occurred_at,
        sent_at=message.sent_at or message.created_at,
    )
    try:
        # A savepoint: a racing duplicate (the order signalled twice at once) loses here.
        with transaction.atomic():
            conversion.save(force_insert=True)
    except IntegrityError:
        return None
    signals.emit(signals.conversion_recorded, Conversion, conversion=conversion)
    logger.info(
        "postpurchase: event %s is a %s conversion of message %s (flow %s)",
        event.pk,
        kind,
        message.pk,
        conversion.flow_id,
    )
    return conversion


def attribute_late_touches() -> int:
    """The periodic job: attribute again the recent orders and goal events that have no
    conversion yet, now that a click reported late may be recorded. Idempotent (an order
    counts once), bounded by the window (read LATE_TOUCH_BATCH events at a time); returns
    the conversions recorded."""
    since = clock.now() - timedelta(hours=LATE_TOUCH_HOURS)
    goals = set(Flow.objects.exclude(goal_event="").values_list("goal_event", flat=True))
    # Only a contact with a touched email can convert (a later touch implies the first
    # one on the message): most orders follow no email and are not read again.
    touched = Message.objects.filter(contact_id=OuterRef("contact_id")).filter(
        Q(clicked_at__isnull=False) | Q(opened_at__isnull=False)
    )
    candidates = (
        Event.objects.filter(Q(name=ORDER_EVENT) | Q(name__in=goals), occurred_at__gte=since)
        .filter(conversions__isnull=True)
        .filter(Exists(touched))
        .order_by("occurred_at", "pk")
    )
    recorded = 0
    after: tuple[datetime, int] | None = None
    # Batches through the whole window (keyset on time and id), so events past the
    # first batch are reached on every pass, not starved by the oldest ones.
    while True:
        page = candidates
        if after is not None:
            page = page.filter(
                Q(occurred_at__gt=after[0]) | Q(occurred_at=after[0], pk__gt=after[1])
            )
        events = list(page[:LATE_TOUCH_BATCH])
        for event in events:
            try:
                recorded += len(attribute(event))
            except Exception:
                logger.exception("postpurchase: attributing event %s failed", event.pk)
        if len(events) < LATE_TOUCH_BATCH:
            return recorded
        after = (events[-1].occurred_at, events[-1].pk)


def on_event_tracked(sender, event: Event, **kwargs: Any) -> None:
    """After the shop's commit: attribute the event. Never raises: the shop's order is
    recorded whatever happens here."""
    try:
        attribute(event)
    except Exception:
        logger.exception("postpurchase: attributing event %s failed", event.pk)


def connect() -> None:
    """Attribute every recorded event (called from ``PostpurchaseConfig.ready``)."""
    signals.event_tracked.connect(on_event_tracked, dispatch_uid="postpurchase.attribution")
