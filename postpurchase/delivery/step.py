"""An EmailStep's run: one Message per enrollment, rendered in order, sent concurrently.

Each enrollment is prepared on its own: a coupon that cannot be issued, an adapter
that raises or bad data in one order's snapshot retries (then fails) that enrollment
alone, while the rest of the batch is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from anymail.exceptions import AnymailInvalidAddress
from django.db import transaction
from django.db.models import Q

from postpurchase import clock, consent, pacing
from postpurchase.conf import get_setting
from postpurchase.delivery import errors
from postpurchase.delivery.batch import Job, deliver
from postpurchase.delivery.compose import build_email
from postpurchase.delivery.content import email_context, message_language, step_coupon
from postpurchase.delivery.sender import Outcome
from postpurchase.email.rendering import render_template
from postpurchase.exceptions import AdapterCallError, TemplateRenderError
from postpurchase.models import Message
from postpurchase.privacy import contact_names
from postpurchase.results import Exit, Fail, Next, StepResult, Wait
from postpurchase.retries import retry_send, retry_step

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext
    from postpurchase.models import EmailStep

logger = logging.getLogger("postpurchase.delivery")

# Sent and suppressed messages are never sent again by their step; an unknown outcome
# held for staff is not either (they resend it from the admin).
DONE = (
    Message.Status.SENT,
    Message.Status.SUPPRESSED,
    Message.Status.UNKNOWN,
    Message.Status.SKIPPED,
)


def send_step_emails(step: EmailStep, contexts: list[StepContext]) -> list[StepResult]:
    """Send ``step``'s email to each enrollment in ``contexts``; one result each."""
    if not contexts:
        return []
    messages = ensure_messages(step, contexts)
    now = contexts[0].now
    results: dict[int, StepResult] = {}
    # Consent, chosen frequency and the erased list, for the whole batch at once.
    refused = consent.refusals(step, [ctx.contact for ctx in contexts])
    paces = pacing.plan(
        step,
        [
            ctx
            for ctx in contexts
            if ctx.contact.pk not in refused and _paced(messages[ctx.enrollment.pk], ctx, step)
        ],
        messages,
        now,
        cache=contexts[0].batch.cache,
    )

    def jobs() -> Iterator[Job]:
        for index, ctx in enumerate(contexts):
            message = messages[ctx.enrollment.pk]
            job = prepare(
                step,
                ctx,
                message,
                index,
                refused.get(ctx.contact.pk),
                pace=paces.get(ctx.enrollment.pk),
            )
            if isinstance(job, StepResult):
                results[index] = job
            else:
                yield job

    lease = getattr(contexts[0].batch, "lease", None)
    for job in deliver(jobs(), now=now, lease=lease):
        results[job.index] = result_for(job, contexts[job.index])
    # Enrollments not reached (the worker is stopping) stay due, with nothing spent.
    return [results.get(i, Wait(until=now, counts=False)) for i in range(len(contexts))]


def ensure_messages(step: EmailStep, contexts: list[StepContext]) -> dict[int, Message]:
    """The Message of each enrollment for this visit of this step. Rows that exist
    already (a retry, a re-run after a crash) are returned as they are: the unique
    (enrollment, step, visit) constraint keeps one. A later visit (a flow that loops
    back here) gets a row of its own.

    A fresh message is written once, when it is marked ``sending`` (committed before
    its email leaves) or with the outcome decided before sending, rather than inserted
    here and updated there: one write fewer per email. A step with a coupon policy
    inserts them here first, since a coupon points at its message."""
    now = contexts[0].now
    by_visit: dict[int, list[int]] = {}
    for ctx in contexts:
        by_visit.setdefault(ctx.visit, []).append(ctx.enrollment.pk)
    wanted = Q()
    for visit, ids in by_visit.items():
        wanted |= Q(visit=visit, enrollment_id__in=ids)
    found = {m.enrollment_id: m for m in Message.objects.filter(wanted, step=step)}
    fresh = [
        Message(
            enrollment=ctx.enrollment,
            step=step,
            visit=ctx.visit,
            contact=ctx.contact,
            to_email=ctx.contact.email,
            category=step.category,
            created_at=now,
        )
        for ctx in contexts
        if ctx.enrollment.pk not in found
    ]
    if fresh and step.coupon_policy_id:
        with transaction.atomic():
            Message.objects.bulk_create(fresh, ignore_conflicts=True)
        found = {m.enrollment_id: m for m in Message.objects.filter(wanted, step=step)}
    else:
        found.update((m.enrollment_id, m) for m in fresh)  # unsaved until marked
    for ctx in contexts:
        message = found[ctx.enrollment.pk]
        # Reuse the objects we already hold, so templates and signals need no queries.
        message.enrollment = ctx.enrollment
        message.contact = ctx.contact
    return found


def _paced(message: Message, ctx: StepContext, step: EmailStep) -> bool:
    """Is this email about to be sent, so pacing decides when? Not when it is done, was
    in flight when its worker died (it may have left), or is refused by consent."""
    return (
        message.status not in DONE
        and message.status != Message.Status.SENDING
        and ctx.contact.accepts(step.category)
    )


def prepare(
    step: EmailStep,
    ctx: StepContext,
    message: Message,
    index: int,
    refused: str | None = None,
    pace: pacing.Pace | None = None,
) -> Job | StepResult:
    """The job that sends (or records) this enrollment's email, or the step's result
    when there is nothing to send. ``refused`` is why consent forbids it (see
    ``consent.refusals``): the message is recorded suppressed with that reason.
    ``pace`` (marketing) says whether it may go now."""
    if message.status in DONE:
        return Next()
    job = Job(message=message, enrollment_id=ctx.enrollment.pk, index=index)
    if message.status == Message.Status.SENDING:
        # Its worker died while the ESP had it: it may have been delivered.
        if get_setting("UNKNOWN_OUTCOME") == "hold":
            job.outcome = Outcome(
                "unknown",
                "Its worker stopped while the ESP had it: it may have been delivered. "
                'Held (UNKNOWN_OUTCOME="hold"); resend it from the admin if it was not.',
            )
            return job
        message.unconfirmed = True
    elif message.status == Message.Status.FAILED:
        message.attempts = 0  # staff retried the enrollment: a fresh set of attempts
    contact = ctx.contact
    if not contact.accepts(step.category):
        reason = "suppressed" if contact.suppressed_at else "unsubscribed"
        job.outcome = Outcome("suppressed", reason)
        return job
    if refused:
        job.outcome = Outcome("suppressed", refused)
        return job
    if pace is not None and pace.hold is not None:
        # Held back before rendering: no coupon issued, nothing rendered for nothing.
        job.outcome = Outcome("skipped" if pace.hold.skip else "deferred", hold=pace.hold)
        return job
    job.pace = pace
    try:
        coupon = step_coupon(step, message, ctx)
        job.rendered = render_template(
            step.template,
            message_language(contact.locale, ctx.snapshot.get("locale")),
            email_context(ctx, message, step.category, coupon=coupon),
            cache=ctx.batch.cache,
        )
        job.email = build_email(message, job.rendered, step)
    except TemplateRenderError as exc:
        job.outcome = Outcome("template", str(exc))
    except AnymailInvalidAddress as exc:
        job.outcome = Outcome(
            errors.REFUSED, errors.describe(exc, contact_names(contact)), address=True
        )
    except Exception as exc:
        # An adapter that is down, a coupon that cannot be issued, bad data, a bug:
        # this enrollment tries again later, and fails alone after MAX_STEP_ATTEMPTS.
        if not isinstance(exc, AdapterCallError):
            logger.exception(
                "postpurchase: preparing %r for enrollment %s failed", step, ctx.enrollment.pk
            )
        job.outcome = Outcome("step_error", errors.describe(exc, contact_names(contact)))
    return job


def result_for(job: Job, ctx: StepContext) -> StepResult:
    """What the enrollment does next, given what happened to its email."""
    outcome, message, now = job.outcome, job.message, ctx.now
    kind = outcome.kind
    if kind in ("sent", "suppressed", "unknown", "skipped"):
        return Next()
    if kind == "deferred":
        return Wait(until=outcome.hold.until, counts=False)
    if kind == "template":
        return Fail(f"Step {ctx.step}: {outcome.error}")
    if kind == "step_error":
        return retry_step(ctx.step, ctx.enrollment.attempts, now, outcome.error)
    if kind == errors.CONFIG:
        return Fail(message.error)
    if kind == errors.REFUSED:
        if outcome.address:
            # The ESP refuses this address: retrying cannot help, and nor can later steps.
            return Exit(f"address refused: {outcome.error}")
        return Fail(f"The ESP refused the email: {outcome.error}")
    if kind in (errors.THROTTLED, "not_sent"):
        # From the time of the answer, not of the batch's start: the ESP's Retry-After
        # counts from its answer.
        seconds = outcome.retry_after or 0
        until = clock.now() + timedelta(seconds=seconds)
        return Wait(until=until, error=outcome.error, counts=False)
    # TRANSIENT
    if message.status == Message.Status.FAILED:
        return Next()  # given up on this email (staff can resend it); the series goes on
    return retry_send(message.attempts, now, outcome.error, outcome.retry_after or 0)
