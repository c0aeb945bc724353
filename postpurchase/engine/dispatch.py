"""Waking whatever runs due work: a background thread of this process (embedded
default), the committing thread itself, or Celery workers.

A wake-up carries enrollment ids only; what is due and when lives in the database, so
a lost or repeated wake-up costs nothing but a later start (the periodic tick or the
scheduler command catches up) or a claim that finds the work already taken.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any

from django.db import close_old_connections, router, transaction

from postpurchase.conf import get_setting
from postpurchase.engine.scheduler import run_enrollments
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.models import Enrollment

logger = logging.getLogger("postpurchase.engine")

# At interpreter exit, wait this long for wake-ups already handed to the background
# thread (what is left is picked up by the scheduler: nothing is lost).
EXIT_WAIT_SECONDS = 10.0

# The Celery task that runs enrollments, handed over by postpurchase.contrib.celery.tasks
# when it is imported (ready() imports it in Celery mode, a worker's autodiscovery too):
# the tasks import the engine, and the engine never imports Celery.
_celery_task: Any = None


def use_celery_task(task: Any) -> None:
    """Send Celery-mode wake-ups to ``task`` (a Celery task taking a list of ids)."""
    global _celery_task
    _celery_task = task


def wake(enrollment_ids: list[int]) -> None:
    """Run these enrollments' due steps soon: in the background, now, or in Celery."""
    if not enrollment_ids:
        return
    mode = get_setting("EXECUTION")
    if mode == "celery":
        if _celery_task is None:
            raise PostpurchaseConfigurationError(
                'POSTPURCHASE["EXECUTION"] is "celery" but the Celery tasks are not loaded: '
                'install "django-postpurchase[celery]" and see manage.py check.'
            )
        _celery_task.delay(list(enrollment_ids))
    elif mode == "sync":
        _run(list(enrollment_ids))
    else:
        background().submit(list(enrollment_ids))


def wake_on_commit(enrollment_ids: list[int]) -> None:
    """Wake after the transaction that wrote the enrollments commits (at once outside
    one): on the database the router writes enrollments to, which need not be the
    default one."""
    ids = list(enrollment_ids)
    using = router.db_for_write(Enrollment)
    transaction.on_commit(lambda: wake(ids), using=using, robust=True)


def _run(ids: list[int]) -> None:
    size = get_setting("BATCH_SIZE")
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            run_enrollments(chunk)
        except Exception:  # never break the shop's request; the scheduler retries later
            logger.exception("postpurchase: running enrollments %s in-process failed", chunk)


class Background:
    """One daemon thread that runs wake-ups in order, off the shop's request thread.

    The customer's checkout returns as soon as its transaction commits; the thank-you
    leaves from here a moment later. If the process dies first, the enrollments are
    still due in the database and the scheduler sends them.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[list[int]] = queue.Queue()
        self.pending = 0  # wake-ups submitted and not yet run
        self.done = threading.Condition()
        self.thread = threading.Thread(target=self._loop, name="postpurchase-wake", daemon=True)
        self.thread.start()

    def submit(self, ids: list[int]) -> None:
        with self.done:
            self.pending += 1
        self.queue.put(ids)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted wake-up has run (tests, shutdown)."""
        with self.done:
            return self.done.wait_for(lambda: self.pending == 0, timeout)

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            # Several checkouts in a burst: one claim for all of them.
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                close_old_connections()
                _run([i for ids in batch for i in ids])
            finally:
                close_old_connections()
                with self.done:
                    self.pending -= len(batch)
                    self.done.notify_all()


_background: Background | None = None
_lock = threading.Lock()


def background() -> Background:
    """This process's wake-up thread (a fresh one after a fork)."""
    global _background
    with _lock:
        if _background is None or _background.pid != os.getpid():
            _background = Background()
        return _background


@atexit.register
def _drain_at_exit() -> None:
    if _background is not None and _background.pid == os.getpid():
        _background.wait_idle(EXIT_WAIT_SECONDS)
