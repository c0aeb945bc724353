"""Sending a batch of prepared emails: marked before, recorded after, concurrently.

The worker's own thread renders emails in order and hands them to the sender's threads
in groups (half of ``SEND_CONCURRENCY``). For each group, one transaction records the
answers in hand (one statement), keeps only the emails whose enrollments are still
ours (renewing the lease when it is due), and marks those messages ``sending`` with
the attempt's time (one statement); only after it commits do they go to the ESP, and
only then are the recorded answers' signals sent. So at most ``SEND_CONCURRENCY``
emails plus one group are ever unrecorded. A worker that
dies leaves those few ``sending``; whoever runs the step next knows their outcome is
unknown (``UNKNOWN_OUTCOME``) and marks any resend as a possible duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from postpurchase import clock, pacing, signals
from postpurchase.delivery import errors
from postpurchase.delivery.compose import esp_name, html_part
from postpurchase.delivery.mail_dir import write_to_mail_dir
from postpurchase.delivery.sender import Outcome, get_sender
from postpurchase.email.rendering import RenderedEmail
from postpurchase.engine.db import update_rows
from postpurchase.models import Message
from postpurchase.retries import send_given_up
from postpurchase.shutdown import stopping

logger = logging.getLogger("postpurchase.delivery")

# Record answers at least this often while sending (seconds).
RECORD_INTERVAL = 0.1

_RECORDED_FIELDS = [
    "status",
    "error",
    "subject",
    "language",
    "attempts",
    "attempted_at",
    "unconfirmed",
    "possible_duplicate_at",
    "esp_name",
    "esp_message_id",
    "sent_at",
    "wanted_at",
    "deferred_until",
    "deferral_reason",
    "deferrals",
]
_MARKED_FIELDS = [
    "status",
    "subject",
    "language",
    "attempts",
    "attempted_at",
    "possible_duplicate_at",
]


@dataclass(eq=False)
class Job:
    """One message on its way: the built email, or an outcome decided before sending
    (suppressed, a template error) that only needs recording."""

    message: Message
    email: Any = None
    rendered: RenderedEmail | None = None
    enrollment_id: int | None = None
    index: int = 0  # the caller's position (its StepContext)
    outcome: Outcome | None = None
    # Set when its message was marked "sending" (an attempt began).
    marked: bool = False
    # A marketing email's pacing (caps checked again when it is marked).
    pace: Any = None


def deliver(jobs: Iterable[Job], *, now: datetime, lease=None) -> list[Job]:
    """Send ``jobs`` (an iterator: each is rendered when pulled) and record every
    outcome on its Message. Returns the jobs that got an outcome; jobs never pulled
    (the worker is stopping) are left untouched for the next run.

    Each round trip to the database is one transaction that records the answers in
    hand and marks the next group: the worker's thread then waits on the database
    once per group, not once per email (its waits also compete with the sending
    threads for the GIL)."""
    sender = get_sender()
    sender.open_if_due(now)
    size = sender.size
    group = max(1, size // 2)
    source: Iterator[Job] = iter(jobs)
    exhausted = False
    running: dict[Future, Job] = {}
    ready: list[Job] = []  # rendered, not yet marked
    answered: list[Job] = []
    finished: list[Job] = []
    last_record = time.monotonic()
    recorded: list[Job] = []  # being written; back to the drain if that fails

    try:
        while True:
            for future in [f for f in running if f.done()]:
                job = running.pop(future)
                job.outcome = _result(future)
                if job.outcome.retry_after and job.outcome.kind in (errors.THROTTLED, "not_sent"):
                    sender.throttled_until(clock.now() + timedelta(seconds=job.outcome.retry_after))
                answered.append(job)
            if stopping():
                exhausted = True
                ready = []  # rendered but never marked: left for the next run
            submit = bool(ready) and (len(ready) >= group or exhausted)
            submit = submit and len(running) + len(ready) <= size
            # While the worker renders, answers ride along with the next group's mark
            # (one transaction for both); on their own only when a group's worth is
            # waiting, or when the worker has nothing to render and they have waited
            # RECORD_INTERVAL, or nothing is left in flight.
            rendering = not exhausted and len(ready) < group
            # Outcomes decided before sending (deferred, suppressed) wait for company
            # while the worker renders: a batch of deferrals is a few writes, not one each.
            record_due = bool(answered) and (
                len(answered) >= group
                or (not running and (not rendering or any(j.marked for j in answered)))
                or (not rendering and time.monotonic() - last_record >= RECORD_INTERVAL)
            )
            if submit or record_due:
                recorded, answered = answered, []
                chunk, ready = (ready, []) if submit else ([], ready)
                with transaction.atomic():
                    after = write_outcomes(_still_ours(recorded, lease), now)
                    to_send = mark(chunk, now, lease)
                after()
                # Deferred when marked (another worker's email to the contact went
                # first): recorded with the next answers.
                answered.extend(j for j in chunk if j.outcome is not None and not j.marked)
                finished.extend(recorded)
                recorded = []
                last_record = time.monotonic()
                for job in to_send:
                    running[sender.submit(job.email, _may_send(lease, job.enrollment_id))] = job
                continue
            if not exhausted and len(ready) < group:
                # Render the next email while the ESP has the others.
                job = next(source, None)
                if job is None:
                    exhausted = True
                elif job.outcome is not None:
                    answered.append(job)
                else:
                    ready.append(job)
                continue
            if not running and not ready:
                break
            wait(list(running), timeout=RECORD_INTERVAL, return_when=FIRST_COMPLETED)
            if lease is not None:
                lease.renew_if_due()
    except Exception:
        # Something failed on the worker's side (the database, say) while emails are
        # with the ESP: wait for them and record what they did before giving up, so a
        # re-run of the step does not find them "sending" and send them again.
        _drain(running, recorded + answered, now)
        raise
    return finished


def _still_ours(jobs: list[Job], lease) -> list[Job]:
    """Outcomes decided before sending (suppressed, a template error) are written only
    for enrollments this worker still holds: after a takeover the row is the new
    owner's. Sent emails are always recorded: they did leave."""
    unmarked = [j for j in jobs if not j.marked and j.enrollment_id is not None]
    if lease is None or not unmarked:
        return jobs
    held = lease.hold({j.enrollment_id for j in unmarked})
    return [j for j in jobs if j.marked or j.enrollment_id is None or j.enrollment_id in held]


def _drain(running: dict[Future, Job], answered: list[Job], now: datetime) -> None:
    for future in list(running):
        job = running.pop(future)
        job.outcome = _result(future)
        answered.append(job)
    try:
        with transaction.atomic():
            after = write_outcomes(answered, now)
        after()
    except Exception:
        logger.exception("postpurchase: could not record %s answers", len(answered))


def _may_send(lease, enrollment_id):
    """Asked by the sending thread right before the ESP call. Once handed over, an
    email goes out even when the worker is stopping (it finishes what is in flight)."""
    if lease is None or enrollment_id is None:
        return lambda: True
    return lambda: lease.valid(enrollment_id)


def _result(future: Future) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # a bug in the sending code itself: retry, never lose it
        logger.exception("postpurchase: a sending thread crashed")
        return Outcome(errors.TRANSIENT, errors.describe(exc), maybe_sent=True)


def mark(chunk: list[Job], now: datetime, lease=None) -> list[Job]:
    """In the caller's transaction: keep the jobs whose enrollments are still ours (the
    lease renewed when due) and mark their messages as being sent. Returns the jobs
    that may go out; the others are dropped (their enrollment's new owner sends them)."""
    if not chunk:
        return []
    if lease is not None:
        held = lease.hold({j.enrollment_id for j in chunk if j.enrollment_id is not None})
        keep = [j for j in chunk if j.enrollment_id is None or j.enrollment_id in held]
    else:
        keep = list(chunk)
    keep = _within_caps(keep, now)
    for job in keep:
        message = job.message
        message.status = Message.Status.SENDING
        message.attempts += 1
        message.attempted_at = now
        if message.unconfirmed and message.possible_duplicate_at is None:
            message.possible_duplicate_at = now
        if job.rendered is not None:
            message.subject = job.rendered.subject
            message.language = job.rendered.language
        job.marked = True
    save_rows([j.message for j in keep], _MARKED_FIELDS)
    dropped = len(chunk) - len(keep)
    if dropped:
        logger.info("postpurchase: lease lost for %s message(s); not sent", dropped)
    return keep


def _within_caps(jobs: list[Job], now: datetime) -> list[Job]:
    """The jobs whose marketing emails still fit their contacts' caps, checked under the
    contacts' row locks in the marking transaction; the others get a deferral (or skip)
    as their outcome instead of being sent."""
    paced = [j for j in jobs if j.pace is not None]
    if not paced:
        return jobs
    late = pacing.recheck([(j.message.contact_id, j.pace) for j in paced], now)
    for index, hold in late.items():
        paced[index].outcome = Outcome("skipped" if hold.skip else "deferred", hold=hold)
    if late:
        logger.info("postpurchase: %s email(s) over a cap when marked; deferred", len(late))
    return [j for j in jobs if j.outcome is None]


def write_outcomes(jobs: list[Job], now: datetime):
    """Write each job's outcome on its message (one statement), in the caller's
    transaction. Returns what to do once it has committed (signals, mail copies)."""
    to_write: list[Message] = []
    reverted: list[Job] = []
    pending_signals: list[tuple[Any, dict[str, Any]]] = []
    for job in jobs:
        if job.outcome.kind == "not_sent" and job.marked:
            reverted.append(job)
            continue
        emitted = apply(job, now)
        if job.outcome.kind != "not_sent":
            to_write.append(job.message)
        if emitted is not None:
            pending_signals.append(emitted)
    save_rows(to_write, _RECORDED_FIELDS)
    for job in reverted:
        _revert(job)

    def after() -> None:
        for signal, kwargs in pending_signals:
            signals.emit(signal, Message, **kwargs)
        for job in jobs:
            if job.outcome.kind == "sent" and job.rendered is not None:
                write_to_mail_dir(job.message, job.rendered, html_part(job.email))

    return after


def save_rows(messages: list[Message], fields: list[str]) -> None:
    """Write ``fields`` of messages that have a row (one statement) and insert those that
    have none yet (one statement): a fresh message is first written here, at its mark
    or with its outcome. A row another worker inserted meanwhile (it took the
    enrollment over) makes the insert, and so the caller's transaction, fail: nothing
    of it is sent."""
    fresh = [m for m in messages if m._state.adding]
    saved = [m for m in messages if not m._state.adding]
    if fresh:
        Message.objects.bulk_create(fresh)
    update_rows(saved, fields)


def _revert(job: Job) -> None:
    """A marked email that never reached the ESP (throttled, lease lost, stopping):
    undo the mark, unless a new owner of the enrollment has marked it since."""
    message = job.message
    Message.objects.filter(
        pk=message.pk, status=Message.Status.SENDING, attempted_at=message.attempted_at
    ).update(status=Message.Status.RETRYING, attempts=max(message.attempts - 1, 0))
    message.status = Message.Status.RETRYING
    message.attempts = max(message.attempts - 1, 0)


def apply(job: Job, now: datetime) -> tuple[Any, dict[str, Any]] | None:
    """Set the message's fields from the job's outcome; return the signal to send."""
    message, outcome = job.message, job.outcome
    kind = outcome.kind
    message.error = outcome.error[:4000]
    if kind == "sent":
        message.status = Message.Status.SENT
        message.error = ""
        message.sent_at = now
        message.esp_name = esp_name()
        message.esp_message_id = outcome.esp_message_id
        message.unconfirmed = False
        return signals.message_sent, {"message": message}
    if kind == "suppressed":
        message.status = Message.Status.SUPPRESSED
        return signals.message_suppressed, {"message": message, "reason": outcome.error}
    if kind == "unknown":
        message.status = Message.Status.UNKNOWN
        return signals.message_failed, {"message": message, "error": outcome.error, "final": True}
    if kind == "not_sent":
        return None
    if kind in ("deferred", "skipped"):
        return _held(message, outcome.hold, now)
    if kind == errors.THROTTLED:
        # Not the message's fault: the attempt does not count.
        message.status = Message.Status.RETRYING
        message.attempts = max(message.attempts - 1, 0)
        return None
    if kind == "step_error":
        message.status = Message.Status.RETRYING
        return None
    if kind == errors.TRANSIENT:
        message.unconfirmed = message.unconfirmed or outcome.maybe_sent
        final = send_given_up(message.attempts)
        message.status = Message.Status.FAILED if final else Message.Status.RETRYING
        logger.warning(
            "postpurchase: sending %s failed (attempt %s): %s",
            message.pk,
            message.attempts,
            outcome.error,
        )
        return signals.message_failed, {"message": message, "error": outcome.error, "final": final}
    # CONFIG, REFUSED, a template error: final for this message until staff act.
    message.status = Message.Status.FAILED
    if kind == errors.CONFIG:
        message.error = f"ESP configuration error: {outcome.error}"[:4000]
        logger.error("postpurchase: cannot send %s: %s", message.pk, message.error)
    return signals.message_failed, {"message": message, "error": message.error, "final": True}


def _held(message: Message, hold: pacing.Hold, now: datetime) -> tuple[Any, dict[str, Any]]:
    """Record a deferral (the email waits for ``hold.until``) or a skip on the message."""
    message.wanted_at = message.wanted_at or now
    message.deferred_until = hold.until
    message.deferral_reason = hold.reason
    if hold.skip:
        message.status = Message.Status.SKIPPED
        message.error = (
            f"Skipped: it could go only at {hold.until.isoformat()} ({hold.reason}), later "
            "than its step allows (skip if deferred more than ... days)."
        )
        return signals.message_skipped, {"message": message, "reason": hold.reason}
    message.status = Message.Status.DEFERRED
    message.deferrals += 1
    message.error = ""
    return signals.message_deferred, {
        "message": message,
        "until": hold.until,
        "reason": hold.reason,
    }
