"""Celery tasks: thin wrappers around engine functions.

A task never carries a due time (no countdown/ETA tasks: Redis re-delivers those after
its visibility timeout); due times live in the database, and a task only wakes a worker
to claim what is due.

Importing this module needs Celery (the ``celery`` extra). It imports the engine, and
hands ``run_enrollments`` to the engine's dispatcher; the engine never imports it.
"""

from __future__ import annotations

import math

from celery import shared_task
from celery.signals import worker_shutting_down

from postpurchase import coupons, engine, periodic, shutdown
from postpurchase.conf import get_setting
from postpurchase.engine import dispatch


@worker_shutting_down.connect
def _finish_in_flight(**kwargs) -> None:
    """Warm shutdown (SIGTERM): the batch being sent in this process finishes the
    emails already with the ESP, records them, and starts no more."""
    shutdown.request_stop()


@shared_task(name="postpurchase.tick", ignore_result=True)
def tick() -> int:
    """Run by beat every TICK_SECONDS: enqueue one ``advance_due`` per batch of due work
    (bounded), so idle workers pick them up in parallel."""
    batch = get_setting("BATCH_SIZE")
    cap = get_setting("MAX_TASKS_PER_TICK")
    due = engine.count_due(cap=batch * cap)
    tasks = min(cap, math.ceil(due / batch))
    for _ in range(tasks):
        advance_due.delay()
    return tasks


@shared_task(name="postpurchase.advance_due", ignore_result=True)
def advance_due() -> int:
    """Claim one batch of due enrollments and advance it."""
    return engine.advance_due()


@shared_task(name="postpurchase.run_enrollments", ignore_result=True)
def run_enrollments(ids: list[int]) -> int:
    """Advance just-enrolled enrollments right away (sent on transaction commit)."""
    return engine.run_enrollments(ids)


@shared_task(name="postpurchase.expire_coupons", ignore_result=True)
def expire_coupons() -> int:
    """Expire coupons past their validity (beat runs it hourly)."""
    return coupons.expire_coupons()


@shared_task(name="postpurchase.run_job", ignore_result=True)
def run_job(name: str) -> int:
    """Run one job of :mod:`postpurchase.periodic` (beat sends each at its interval)."""
    return periodic.job(name).run()


# Celery-mode wake-ups after commit go to this task.
dispatch.use_celery_task(run_enrollments)
