"""Claiming due enrollments in batches and walking each through its flow's steps.

Many workers on many machines may call these at once. A claim takes up to
``BATCH_SIZE`` due enrollments with ``SELECT ... FOR UPDATE SKIP LOCKED`` (where the
database has it) and stamps them with a lease; a batch whose worker died is claimed
again once its lease has expired. Each step is idempotent (an email's Message row
guards it), so running a step twice after such a takeover sends nothing twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q

from postpurchase import clock, periodic, shutdown, signals
from postpurchase.conf import get_setting
from postpurchase.engine.context import Batch, StepContext
from postpurchase.engine.db import update_rows
from postpurchase.engine.lease import Lease
from postpurchase.models import Enrollment, Flow, Step
from postpurchase.models.steps import behaviour_of, behaviour_owner
from postpurchase.results import Exit, Fail, JumpTo, Next, StepResult, Wait
from postpurchase.retries import retry_step

logger = logging.getLogger("postpurchase.engine")

# A flow that jumps around without ever waiting is broken; stop walking it.
MAX_STEPS_PER_RUN = 100


def _due(now: datetime):
    return Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE,
        due_at__lte=now,
        flow__status=Flow.Status.LIVE,
    ).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))


def claim_due(
    now: datetime | None = None, limit: int | None = None, ids: list[int] | None = None
) -> tuple[uuid.UUID, list[Enrollment]]:
    """Lease up to ``limit`` due enrollments (only ``ids`` if given) for this worker."""
    now = now or clock.now()
    limit = limit or get_setting("BATCH_SIZE")
    token = uuid.uuid4()
    with transaction.atomic():
        # The order of the (status, due_at) index, so the selection reads just the front
        # of it; pk breaks ties so a batch's order is stable.
        candidates = _due(now).order_by("due_at", "pk")
        if ids is not None:
            candidates = candidates.filter(pk__in=ids)
        features = connection.features
        if features.has_select_for_update_skip_locked:
            # OF self: lock only enrollment rows, not the joined flow (MariaDB has no OF).
            of = ("self",) if features.has_select_for_update_of else ()
            candidates = candidates.select_for_update(skip_locked=True, of=of)
        picked = list(candidates.values_list("pk", flat=True)[:limit])
        if not picked:
            return token, []
        # The lease condition is checked again in the UPDATE: on databases without row
        # locks (SQLite) a racing worker that picked the same rows updates none of them.
        _due(now).filter(pk__in=picked).update(
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=get_setting("LEASE_SECONDS")),
        )
    # Reload by primary key (lease_token has no index: filtering on it alone reads the
    # whole table); the token keeps out rows a racing worker leased instead of us.
    claimed = list(
        Enrollment.objects.filter(pk__in=picked, lease_token=token)
        .select_related("contact", "flow", "trigger_event")
        .defer("trigger_event__snapshot")
        .order_by("due_at", "pk")
    )
    return token, claimed


def process(enrollments: list[Enrollment], now: datetime) -> int:
    """Walk claimed enrollments through their steps until each waits, exits, fails or
    finishes, then save them all in one transaction.

    Enrollments standing on the same step run together through ``Step.execute_batch``,
    so an email step writes its Message rows and results with a few statements per
    batch rather than a few commits per email. One enrollment failing never stops the
    others.
    """
    batch = Batch(now=now, lease=Lease.of(enrollments))
    pending = list(enrollments)
    finished: list[Enrollment] = []
    executed: dict[int, list[tuple[Step, StepResult]]] = {}
    for _ in range(MAX_STEPS_PER_RUN):
        if not pending:
            break
        groups: dict[int, tuple[Step, list[StepContext]]] = {}
        for enrollment in pending:
            step = _current_step(enrollment, batch)
            if step is None:
                _complete(enrollment, now)
                finished.append(enrollment)
                continue
            ctx = StepContext(enrollment=enrollment, step=step, batch=batch)
            groups.setdefault(step.pk, (step, []))[1].append(ctx)
        pending = []
        for step, contexts in groups.values():
            for ctx, result in zip(contexts, _run_step(step, contexts), strict=True):
                enrollment = ctx.enrollment
                executed.setdefault(enrollment.pk, []).append((step, result))
                if _apply(enrollment, step, result, batch):
                    pending.append(enrollment)
                else:
                    finished.append(enrollment)
    for enrollment in pending:
        _finish(
            enrollment,
            Enrollment.Status.FAILED,
            now,
            error=f"More than {MAX_STEPS_PER_RUN} steps without a wait: a loop?",
        )
        finished.append(enrollment)
    saved = _save_all(finished)
    # Announced only for what was saved: a result dropped because the enrollment changed
    # meanwhile (taken over, exited) did not happen. emit() waits for the commit.
    for enrollment in saved:
        for step, result in executed.get(enrollment.pk, []):
            signals.emit(
                signals.step_executed, type(step), enrollment=enrollment, step=step, result=result
            )
        if enrollment.status == Enrollment.Status.COMPLETED:
            signals.emit(signals.enrollment_completed, Enrollment, enrollment=enrollment)
        elif enrollment.status in (Enrollment.Status.EXITED, Enrollment.Status.FAILED):
            signals.emit(
                signals.enrollment_exited,
                Enrollment,
                enrollment=enrollment,
                reason=enrollment.exit_reason or enrollment.status,
            )
    return len(enrollments)


def _current_step(enrollment: Enrollment, batch: Batch) -> Step | None:
    steps = batch.steps(enrollment.flow_id)
    index = batch.step_index(enrollment.flow_id).get(enrollment.step_id)
    return None if index is None else steps[index]


def _batches(model: type[Step]) -> bool:
    """Does this kind run a batch at once: its class overrides ``execute_batch``, or its
    registered behaviour (postpurchase.steps) provides one, as the email step does, and
    no subclass below the registered kind defines its own ``execute`` (which it keeps)?"""
    if model.execute_batch is not Step.execute_batch:
        return True
    behaviour = behaviour_of(model)
    if behaviour.execute_batch is None:
        return False
    registered = behaviour_owner(model)
    return all(
        "execute" not in vars(k)
        for k in model.__mro__
        if k is not registered and issubclass(k, registered)
    )


def _run_step(step: Step, contexts: list[StepContext]) -> list[StepResult]:
    if not _batches(type(step)):
        # A step without a batch version runs ``execute`` enrollment by enrollment.
        return [_run_one(step, ctx) for ctx in contexts]
    try:
        return _execute(step, contexts)
    except Exception as exc:
        if len(contexts) == 1:
            return [_step_crashed(step, contexts[0], exc)]
        # Someone in the batch made the whole step raise: run each enrollment alone, so
        # the culprit fails on its own and the others go on.
        logger.warning(
            "postpurchase: step %r of flow %s raised for a batch of %s; running them one by one",
            step,
            step.flow_id,
            len(contexts),
        )
    results = []
    for ctx in contexts:
        try:
            results.append(_execute(step, [ctx])[0])
        except Exception as exc:
            results.append(_step_crashed(step, ctx, exc))
    return results


def _run_one(step: Step, ctx: StepContext) -> StepResult:
    try:
        return step.execute(ctx)
    except Exception as exc:
        return _step_crashed(step, ctx, exc)


def _execute(step: Step, contexts: list[StepContext]) -> list[StepResult]:
    results = step.execute_batch(contexts)
    if len(results) != len(contexts):
        raise TypeError(
            f"{type(step).__name__}.execute_batch() returned {len(results)} results "
            f"for {len(contexts)} enrollments"
        )
    return results


def _step_crashed(step: Step, ctx: StepContext, exc: Exception) -> StepResult:
    """This enrollment's step raised: try again with backoff, and after
    MAX_STEP_ATTEMPTS fail the enrollment with its own error."""
    logger.error(
        "postpurchase: step %r crashed for enrollment %s",
        step,
        ctx.enrollment.pk,
        exc_info=exc,
    )
    error = f"{type(exc).__name__}: {exc}"[:2000]
    return retry_step(step, ctx.enrollment.attempts, ctx.now, error)


def _apply(enrollment: Enrollment, step: Step, result: StepResult, batch: Batch) -> bool:
    """Record a step's result on the enrollment; True if it moves on to another step."""
    now = batch.now
    if isinstance(result, (Next, JumpTo)):
        if isinstance(result, JumpTo):
            target = result.step
        else:
            steps = batch.steps(enrollment.flow_id)
            index = batch.step_index(enrollment.flow_id)[step.pk]
            target = steps[index + 1] if index + 1 < len(steps) else None
        if target is not None and not _may_enter(enrollment, target, batch):
            return False
        enrollment.move_to(target, now)
        return True
    if isinstance(result, Wait):
        enrollment.due_at = max(result.until, now + timedelta(seconds=1))
        enrollment.last_error = result.error
        if result.error and result.counts:
            enrollment.attempts += 1
    elif isinstance(result, Exit):
        _finish(enrollment, Enrollment.Status.EXITED, now, reason=result.reason)
    elif isinstance(result, Fail):
        _finish(enrollment, Enrollment.Status.FAILED, now, error=result.error)
    else:
        _finish(
            enrollment,
            Enrollment.Status.FAILED,
            now,
            error=f"{type(step).__name__} returned {result!r}, not a StepResult",
        )
    return False


def _may_enter(enrollment: Enrollment, target: Step, batch: Batch) -> bool:
    """May the enrollment move on to ``target``? Not a second time in one run (nothing
    waited in between: a loop without a delay, which would send an email per lap), nor
    past ``MAX_STEP_VISITS`` visits; either ends the enrollment, with the reason."""
    entered = batch.entered.setdefault(enrollment.pk, set())
    if target.pk in entered:
        _finish(
            enrollment,
            Enrollment.Status.FAILED,
            batch.now,
            error=f"Step {target.position} reached again without a wait: the flow loops "
            "without a delay. Add a delay to the loop, then retry.",
        )
        return False
    entered.add(target.pk)
    cap = get_setting("MAX_STEP_VISITS")
    reached = enrollment.visits.get(str(target.pk)) or int(target.pk == enrollment.step_id)
    if reached >= cap:
        logger.warning(
            "postpurchase: enrollment %s reached step %s %s times (MAX_STEP_VISITS); exited",
            enrollment.pk,
            target.pk,
            cap,
        )
        _finish(
            enrollment,
            Enrollment.Status.EXITED,
            batch.now,
            reason=f"step {target.position} reached {cap} times (MAX_STEP_VISITS)",
        )
        return False
    return True


def _complete(enrollment: Enrollment, now: datetime) -> None:
    _finish(enrollment, Enrollment.Status.COMPLETED, now)
    enrollment.step = None


def _finish(
    enrollment: Enrollment, status: str, now: datetime, *, reason: str = "", error: str = ""
) -> None:
    enrollment.status = status
    enrollment.finished_at = now
    enrollment.due_at = None
    enrollment.exit_reason = reason[:200]
    if error:
        enrollment.last_error = error


_SAVED_FIELDS = [
    "status",
    "step",
    "step_entered_at",
    "visits",
    "due_at",
    "attempts",
    "finished_at",
    "exit_reason",
    "last_error",
    "lease_token",
    "lease_expires_at",
]


def _save_all(enrollments: list[Enrollment]) -> list[Enrollment]:
    """Save the walked enrollments and release their leases, in one transaction, but
    only those this worker still holds and that are still active: an enrollment exited
    by an event meanwhile, or taken over after its lease expired, keeps the other
    party's state. Returns the enrollments saved."""
    if not enrollments:
        return []
    by_token: dict[Any, list[Enrollment]] = {}
    for enrollment in enrollments:
        by_token.setdefault(enrollment.lease_token, []).append(enrollment)
    saved: list[Enrollment] = []
    with transaction.atomic():
        for token, group in by_token.items():
            owned = Enrollment.objects.filter(
                pk__in=[e.pk for e in group],
                lease_token=token,
                status=Enrollment.Status.ACTIVE,
            )
            if connection.features.has_select_for_update:
                owned = owned.select_for_update()
            still_ours = set(owned.values_list("pk", flat=True))
            for enrollment in group:
                if enrollment.pk in still_ours:
                    enrollment.lease_token = None
                    enrollment.lease_expires_at = None
                    saved.append(enrollment)
                else:
                    logger.info(
                        "postpurchase: enrollment %s changed while it ran; result dropped",
                        enrollment.pk,
                    )
        update_rows(saved, _SAVED_FIELDS)
    return saved


def advance_due(now: datetime | None = None, limit: int | None = None) -> int:
    """Claim one batch of due enrollments and advance it. Returns how many it took."""
    now = now or clock.now()
    _, enrollments = claim_due(now, limit)
    return process(enrollments, now)


def run_enrollments(ids: list[int], now: datetime | None = None) -> int:
    """Advance these enrollments if they are due and free (a wake-up after enrollment)."""
    now = now or clock.now()
    _, enrollments = claim_due(now, limit=len(ids), ids=list(ids))
    return process(enrollments, now)


def run_due(now: datetime | None = None, max_batches: int = 10_000) -> int:
    """Advance everything due at ``now``, batch after batch. Returns the total."""
    total = 0
    for _ in range(max_batches):
        if shutdown.stopping():
            break
        done = advance_due(now)
        total += done
        if not done:
            break
    return total


def count_due(now: datetime | None = None, cap: int | None = None) -> int:
    qs = _due(now or clock.now())
    if cap is not None:
        return len(qs.values_list("pk", flat=True)[:cap])
    return qs.count()


def next_due_at() -> datetime | None:
    """When the earliest active enrollment of a live flow is due (None if none is)."""
    return Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE, flow__status=Flow.Status.LIVE, due_at__isnull=False
    ).aggregate(at=Min("due_at"))["at"]


def run_scheduler(stop_event: threading.Event | None = None, interval: float = 5.0) -> None:
    """Advance due work every ``interval`` seconds until ``stop_event`` is set: the
    scheduler for deployments without Celery (and the demo)."""
    from django.db import close_old_connections

    stop_event = stop_event or threading.Event()
    jobs = periodic.Timetable()
    while not stop_event.is_set() and not shutdown.stopping():
        try:
            close_old_connections()
            run_due()
            jobs.run_due()
        except Exception:
            logger.exception("postpurchase: scheduler pass failed")
        stop_event.wait(interval)
