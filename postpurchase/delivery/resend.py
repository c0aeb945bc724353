"""Sending failed messages again, at staff's request (admin action, management command).

A message fails for good when its attempts run out (a long ESP outage), the ESP refuses
it, or the ESP set-up is broken; a message whose worker died mid-send is held as
"outcome unknown" when ``UNKNOWN_OUTCOME`` is "hold". Once the cause is fixed, staff
resend such messages whatever their enrollment is doing now (active at a later step,
completed, exited): the email is rendered again from its step and order, with the
coupon it already carried, and recorded on the same Message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from postpurchase import clock, consent
from postpurchase.delivery.batch import Job, deliver
from postpurchase.delivery.compose import build_email
from postpurchase.delivery.content import message_step, render_message
from postpurchase.delivery.sender import Outcome
from postpurchase.engine.context import Batch
from postpurchase.exceptions import TemplateRenderError
from postpurchase.models import Message

RESENDABLE = (Message.Status.FAILED, Message.Status.UNKNOWN)


def resend_messages(messages: Iterable[Message], now: datetime | None = None) -> Counter:
    """Resend the failed or held ones among ``messages``; returns a count per outcome
    ("sent", "failed", "suppressed", "skipped")."""
    now = now or clock.now()
    ids = [m.pk for m in messages]
    counts: Counter = Counter()
    claimed = []
    for message in (
        Message.objects.filter(pk__in=ids)
        .select_related("enrollment__flow", "enrollment__trigger_event", "contact", "step")
        .order_by("created_at")
    ):
        if message.status not in RESENDABLE:
            counts["skipped"] += 1
            continue
        # Take it, unless someone else (another admin, the engine) just did.
        if not Message.objects.filter(pk=message.pk, status=message.status).update(
            status=Message.Status.QUEUED, attempts=0
        ):
            counts["skipped"] += 1
            continue
        if message.status == Message.Status.UNKNOWN:
            message.unconfirmed = True  # it may be in the customer's inbox already
        message.status = Message.Status.QUEUED
        message.attempts = 0
        claimed.append(message)
    batch = Batch(now=now)
    try:
        for job in deliver(_jobs(claimed, batch), now=now, lease=None):
            message = job.message
            if message.status in (Message.Status.RETRYING, Message.Status.QUEUED):
                # Nothing retries a resend by itself: it stays failed, to resend later.
                message.status = Message.Status.FAILED
                Message.objects.filter(pk=message.pk).update(
                    status=Message.Status.FAILED, error=message.error or "not sent; resend later"
                )
            counts[message.status] += 1
    finally:
        # Interrupted (Ctrl+C, an error): what was taken and not finished goes back where
        # staff find it again: failed if it never left, outcome unknown if it may have.
        ids = [m.pk for m in claimed]
        Message.objects.filter(pk__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.FAILED, error="resend interrupted before sending"
        )
        Message.objects.filter(pk__in=ids, status=Message.Status.SENDING).update(
            status=Message.Status.UNKNOWN, error="resend interrupted while the ESP had it"
        )
    return counts


def _jobs(messages: list[Message], batch: Batch) -> Iterator[Job]:
    for message in messages:
        job = Job(message=message)
        try:
            step = message_step(message)
        except TemplateRenderError as exc:
            job.outcome = Outcome("template", str(exc))
            yield job
            continue
        contact = message.contact
        message.enrollment.contact = contact
        if not contact.accepts(message.category):
            job.outcome = Outcome("suppressed", "unsubscribed")
            yield job
            continue
        refused = consent.refusals(step, [contact]).get(contact.pk)
        if refused:
            job.outcome = Outcome("suppressed", refused)
            yield job
            continue
        try:
            job.rendered = render_message(message, batch, step)
            job.email = build_email(message, job.rendered, step)
        except TemplateRenderError as exc:
            job.outcome = Outcome("template", str(exc))
        except Exception as exc:
            job.outcome = Outcome("template", f"{type(exc).__name__}: {exc}")
        yield job
