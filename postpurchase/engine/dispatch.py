"""Waking whatever runs due work: this process (embedded default) or Celery workers.

A wake-up carries enrollment ids only; what is due and when lives in the database, so
a lost or repeated wake-up costs nothing but a later start (the periodic tick catches
up) or a claim that finds the work already taken.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ..conf import get_setting

logger = logging.getLogger("postpurchase.engine")


def wake(enrollment_ids: list[int]) -> None:
    """Run these enrollments' due steps now: in-process, or as one Celery task."""
    if not enrollment_ids:
        return
    if get_setting("EXECUTION") == "celery":
        from ..tasks import run_enrollments

        run_enrollments.delay(list(enrollment_ids))
        return
    from .scheduler import run_enrollments as run_now

    try:
        run_now(enrollment_ids)
    except Exception:  # never break the shop's request; the scheduler retries later
        logger.exception("postpurchase: running enrollments %s in-process failed", enrollment_ids)


def wake_on_commit(enrollment_ids: list[int]) -> None:
    """Wake after the surrounding transaction commits (at once outside one)."""
    ids = list(enrollment_ids)
    transaction.on_commit(lambda: wake(ids), robust=True)
