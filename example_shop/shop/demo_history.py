"""Demo email history: two months of the post-purchase series already sent to past
customers, with what the ESP reported (deliveries, bounces, complaints, unsubscribes,
human and machine opens and clicks) and the orders and reviews that followed a click,
so the flow's analytics page shows figures on the demo's first start.

Written straight into the app's tables (no signal, no email, no enrollment left
active), the way tracking and attribution leave them. Safe to run again: it adds
nothing when the history is there. Every run draws the same figures (a fixed seed),
relative to the day it runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random

from django.db import transaction
from django.utils import timezone

from postpurchase.models import (
    Contact,
    Conversion,
    EmailStep,
    Enrollment,
    Event,
    Flow,
    Message,
    Step,
)

#: Enrollments of the history carry this dedupe key prefix (how a second run finds it).
KEY = "demo-history:"
CUSTOMERS = 320
DAYS = 60
#: (first name, last name, locale) of the history's customers, in turn.
NAMES = [
    ("Мария", "Иванова", "ru"),
    ("Оксана", "Мельник", "uk"),
    ("James", "Walker", "en"),
    ("Дмитрий", "Кузнецов", "ru"),
    ("Андрій", "Бондаренко", "uk"),
]
#: An email's chances, by step (the thank-you is opened most, the review request least).
OPEN = [0.62, 0.41, 0.33]
CLICK = [0.22, 0.14, 0.10]
#: Chance that a click leads to an order within a few days, and the order's size.
ORDER_AFTER_CLICK = 0.3
ORDER_TOTALS = ["1490", "2490", "3990", "4590", "8990", "12490"]


def _offset(step: Step) -> timedelta:
    """When the step's email goes out after the order: the delay before it, if any."""
    delays = [
        s.get_real_instance()
        for s in Step.objects.filter(flow=step.flow, position__lt=step.position)
        if s.polymorphic_ctype.model == "delaystep"
    ]
    return max((d.duration for d in delays), default=timedelta(0))


@transaction.atomic
def load_email_history(flow_slug: str, now: datetime | None = None) -> int:
    """Add the history to the flow ``flow_slug``; returns how many emails it added."""
    flow = Flow.objects.get(slug=flow_slug)
    if Enrollment.objects.filter(flow=flow, dedupe_key__startswith=KEY).exists():
        return 0
    if not flow.goal_event:
        # The series asks for a review: a review after a click is its goal.
        Flow.objects.filter(pk=flow.pk).update(goal_event="review_submitted")
    now = now or timezone.now()
    rng = Random(20261201)
    steps = [s for s in flow.steps.order_by("position") if isinstance(s, EmailStep)]
    offsets = [_offset(s) for s in steps]
    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"history{i}@example.com",
            first_name=NAMES[i % len(NAMES)][0],
            last_name=NAMES[i % len(NAMES)][1],
            locale=NAMES[i % len(NAMES)][2],
        )
        for i in range(CUSTOMERS)
    )
    placed = [now - timedelta(minutes=rng.randint(60, DAYS * 24 * 60)) for _ in contacts]
    orders = Event.objects.bulk_create(
        Event(
            contact=c,
            name="order_placed",
            ref=f"demo.order:H{i}",
            order_ref=f"demo.order:H{i}",
            snapshot={
                "number": f"H-{1000 + i}",
                "currency": "RUB",
                "total": rng.choice(ORDER_TOTALS),
            },
            occurred_at=at,
        )
        for i, (c, at) in enumerate(zip(contacts, placed, strict=True))
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(
            flow=flow,
            contact=c,
            trigger_event=e,
            dedupe_key=f"{KEY}{e.order_ref}",
            order_ref=e.order_ref,
            snapshot=e.snapshot,
            status=Enrollment.Status.COMPLETED,
            step=None,
            step_entered_at=e.occurred_at,
            triggered_at=e.occurred_at,
            finished_at=e.occurred_at + offsets[-1],
        )
        for c, e in zip(contacts, orders, strict=True)
    )
    messages, followups = [], []
    for enrollment in enrollments:
        for index, (step, offset) in enumerate(zip(steps, offsets, strict=True)):
            sent = enrollment.triggered_at + offset
            if sent > now:
                break
            message = _message(rng, enrollment, step, index, sent, now)
            messages.append(message)
            if message.clicked_at and rng.random() < ORDER_AFTER_CLICK:
                at = message.clicked_at + timedelta(hours=rng.randint(1, 72))
                if at < now:
                    followups.append((message, at))
    Message.objects.bulk_create(messages)
    _conversions(rng, flow, followups)
    return len(messages)


def _message(rng: Random, enrollment, step, index, sent, now) -> Message:
    def later(hours: float) -> datetime | None:
        at = sent + timedelta(minutes=rng.randint(5, int(hours * 60)))
        return at if at < now else None

    bounced = rng.random() < 0.02
    fields = {
        "delivered_at": None if bounced else sent + timedelta(seconds=rng.randint(2, 30)),
        "bounced_at": sent + timedelta(seconds=20) if bounced else None,
    }
    if not bounced:
        # Mail privacy proxies open about 40 % at once; security scanners click a few.
        fields["machine_opens"] = 1 if rng.random() < 0.4 else 0
        fields["machine_clicks"] = 1 if rng.random() < 0.04 else 0
        if rng.random() < OPEN[min(index, len(OPEN) - 1)]:
            fields["opened_at"] = later(48)
            fields["opens"] = rng.randint(1, 3) if fields["opened_at"] else 0
            if fields["opened_at"] and rng.random() < CLICK[min(index, len(CLICK) - 1)] / 0.5:
                fields["clicked_at"] = later(60)
                fields["clicks"] = rng.randint(1, 2) if fields["clicked_at"] else 0
        if rng.random() < 0.008:
            fields["unsubscribed_at"] = later(72)
        elif rng.random() < 0.002:
            fields["complained_at"] = later(72)
    return Message(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        enrollment=enrollment,
        step=step,
        contact=enrollment.contact,
        to_email=enrollment.contact.email,
        language=enrollment.contact.locale,
        subject=str(step.template),
        category=step.category,
        status=Message.Status.SENT,
        esp_name="demo",
        attempts=1,
        attempted_at=sent,
        sent_at=sent,
        created_at=sent,
        **fields,
    )


def _conversions(rng: Random, flow: Flow, followups: list[tuple[Message, datetime]]) -> None:
    """The orders (and reviews) customers made after clicking, attributed as
    postpurchase.analytics would have: each to the email clicked."""
    events, conversions = [], []
    for n, (message, at) in enumerate(followups):
        review = n % 5 == 4  # every fifth: a review, the flow's goal, not an order
        ref = f"demo.order:R{n}"
        total = Decimal(rng.choice(ORDER_TOTALS))
        event = Event(
            contact=message.contact,
            name="review_submitted" if review else "order_placed",
            ref=f"demo.review:{n}" if review else ref,
            order_ref=message.enrollment.order_ref if review else ref,
            snapshot={} if review else {"number": f"R-{n}", "currency": "RUB", "total": str(total)},
            occurred_at=at,
        )
        events.append(event)
        conversions.append(
            Conversion(
                kind=Conversion.Kind.GOAL if review else Conversion.Kind.ORDER,
                key=(
                    f"goal:{flow.pk}:review_submitted:{event.order_ref}:{n}"
                    if review
                    else f"order:{ref}"
                ),
                message=message,
                flow=flow,
                step_id=message.step_id,
                contact=message.contact,
                event_name=event.name,
                order_ref=event.order_ref,
                touch=Conversion.Touch.CLICK,
                touched_at=message.clicked_at,
                revenue=None if review else total,
                currency="" if review else "RUB",
                occurred_at=at,
                sent_at=message.sent_at,
            )
        )
    Event.objects.bulk_create(events)
    for event, conversion in zip(events, conversions, strict=True):
        conversion.event = event
    Conversion.objects.bulk_create(conversions)
