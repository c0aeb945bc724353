"""The threads that talk to the ESP: a pool per process, one open connection per thread.

Anymail's backends are synchronous, so a worker overlaps its ESP calls with threads:
``SEND_CONCURRENCY`` of them, each holding one backend connection (``get_connection()``
opened once and reused, so an HTTP ESP sees one keep-alive connection per thread, not
one per email). The threads only call the ESP; every database write stays on the
worker's own thread.

Throttling is shared by the process: a 429 closes a gate until its ``Retry-After``, and
every thread waits at the gate (short waits) or hands its email back to be deferred
(long ones). ``RATE_LIMIT`` caps emails per second for all workers through the cache.
"""

from __future__ import annotations

import concurrent.futures.thread as futures_thread
import logging
import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Any

from django.core.cache import caches
from django.core.mail import get_connection
from django.core.signals import setting_changed
from django.dispatch import receiver

from postpurchase.conf import get_setting
from postpurchase.counters import increment
from postpurchase.delivery import errors

logger = logging.getLogger("postpurchase.delivery")

# A thread waits at a closed gate this long at most; a longer throttle defers the email.
MAX_GATE_WAIT = 2.0
# A connection idle for longer is closed and opened again (ESPs drop idle keep-alives).
MAX_IDLE_SECONDS = 60.0

_SETTINGS_THAT_RESET = {"EMAIL_BACKEND", "ANYMAIL", "POSTPURCHASE"}


@dataclass
class Outcome:
    """What happened to one email handed to the sender."""

    kind: str  # "sent", "not_sent", or one of errors.CONFIG/REFUSED/THROTTLED/TRANSIENT
    error: str = ""
    esp_message_id: str = ""
    retry_after: float | None = None
    maybe_sent: bool = False
    address: bool = False
    # "deferred" / "skipped": the pacing.Hold that decided it.
    hold: Any = None


class Sender:
    def __init__(self, size: int) -> None:
        self.size = size
        self.pid = os.getpid()
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="postpurchase-send")
        self._lock = threading.Lock()
        self._not_before = 0.0  # time.monotonic() before which no thread calls the ESP
        # The same moment by the app's clock (postpurchase.clock), which a simulation
        # moves: a batch that starts after it opens the gate.
        self._not_before_at: datetime | None = None

    def submit(self, email: Any, may_send) -> Future:
        """Send ``email`` on a pool thread; ``may_send()`` is asked right before the ESP
        call (is the batch's lease still ours?)."""
        try:
            return self.executor.submit(self._send, email, may_send)
        except RuntimeError:
            if not _interpreter_exiting():
                raise
            # The pool takes no new work once the interpreter is exiting (concurrent.futures
            # shuts it down before atexit drains the inline wake-up thread): a script that
            # placed an order and ended still sends its emails, one at a time, here.
            done: Future = Future()
            try:
                done.set_result(self._send(email, may_send))
            except Exception as exc:  # as the pool would: the caller reads it from the future
                done.set_exception(exc)
            return done

    def throttle(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def reset_throttle(self) -> None:
        with self._lock:
            self._not_before = 0.0
            self._not_before_at = None

    def throttled_until(self, moment: datetime) -> None:
        """Note when the gate opens by the app's clock (the worker's thread calls this
        for each throttled answer it records)."""
        with self._lock:
            if self._not_before_at is None or moment > self._not_before_at:
                self._not_before_at = moment

    def open_if_due(self, now: datetime) -> None:
        """At the start of a batch: the app's clock says the throttle is over."""
        with self._lock:
            if self._not_before_at is not None and now >= self._not_before_at:
                self._not_before = 0.0
                self._not_before_at = None

    def gate_wait(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self._not_before - time.monotonic())

    def _send(self, email: Any, may_send) -> Outcome:
        wait = self.gate_wait()
        if wait > MAX_GATE_WAIT:
            return Outcome("not_sent", "throttled by the ESP", retry_after=wait)
        if wait:
            time.sleep(wait)
        if not rate_limit_slot():
            return Outcome("not_sent", "RATE_LIMIT reached", retry_after=1.0)
        if not may_send():
            return Outcome("not_sent", "lease lost or worker stopping")
        try:
            connection().send_messages([email])
        except Exception as exc:
            # Kept out of the error text, which is stored and logged.
            names = [name for name, _address in getaddresses(getattr(email, "to", []) or [])]
            verdict = errors.classify(exc, names)
            if verdict.kind == errors.THROTTLED:
                self.throttle(verdict.retry_after or errors.DEFAULT_THROTTLE_SECONDS)
            if verdict.kind == errors.TRANSIENT and getattr(exc, "response", None) is None:
                _drop_connection()  # no answer: the connection may be broken; not reused
            return Outcome(
                verdict.kind,
                verdict.error,
                retry_after=verdict.retry_after,
                maybe_sent=verdict.maybe_sent,
                address=verdict.address,
            )
        status = getattr(email, "anymail_status", None)
        esp_id = getattr(status, "message_id", None)
        return Outcome("sent", esp_message_id="" if esp_id is None else str(esp_id)[:255])


_sender: Sender | None = None
_sender_lock = threading.Lock()


def get_sender() -> Sender:
    """This process's sender (a fresh one after a fork or a change of SEND_CONCURRENCY)."""
    global _sender
    size = get_setting("SEND_CONCURRENCY")
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid() or _sender.size != size:
            old = _sender
            _sender = Sender(size)
            if old is not None and old.pid == os.getpid():
                old.executor.shutdown(wait=False)
        return _sender


# --- one connection per sending thread ------------------------------------------------

_local = threading.local()
_generation = 0


def connection():
    """This thread's open email backend connection, made once and reused."""
    now = time.monotonic()
    conn = getattr(_local, "connection", None)
    if conn is not None and (
        _local.generation != _generation or now - _local.used_at > MAX_IDLE_SECONDS
    ):
        _drop_connection()
        conn = None
    if conn is None:
        conn = get_connection(fail_silently=False)
        conn.open()
        _local.connection = conn
        _local.generation = _generation
    _local.used_at = now
    return conn


def _drop_connection() -> None:
    conn = getattr(_local, "connection", None)
    _local.connection = None
    if conn is not None:
        try:
            conn.close()
        except Exception:  # closing a broken connection may fail too; it is gone anyway
            logger.debug("postpurchase: closing an email connection failed", exc_info=True)


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs) -> None:
    """Tests and ``override_settings`` change the backend: no thread keeps the old one,
    and throttling learnt from another ESP set-up is forgotten."""
    global _generation
    if setting in _SETTINGS_THAT_RESET:
        _generation += 1
        if _sender is not None:
            _sender.reset_throttle()


# --- the shop-wide rate limit ---------------------------------------------------------


def rate_limit_slot(max_wait: float = MAX_GATE_WAIT) -> bool:
    """Take one slot of ``RATE_LIMIT`` emails per second, counted in the shared cache;
    wait for the next second when this one is full. False after ``max_wait``."""
    limit = get_setting("RATE_LIMIT")
    if not limit:
        return True
    try:
        return _take_slot(limit, caches[get_setting("RATE_LIMIT_CACHE")], max_wait)
    except Exception:
        # The cache is down: send unthrottled rather than fail emails the ESP would take.
        logger.warning("postpurchase: RATE_LIMIT cache unavailable; sending without it")
        return True


def _take_slot(limit, cache, max_wait: float) -> bool:
    deadline = time.monotonic() + max_wait
    while True:
        second = int(time.time())
        key = f"postpurchase:rate:{second}"
        used = increment(cache, key, timeout=5)
        if used <= limit:
            return True
        pause = second + 1 - time.time()
        if time.monotonic() + pause > deadline:
            return False
        time.sleep(max(pause, 0.001))


def _interpreter_exiting() -> bool:
    """concurrent.futures refuses new work once the interpreter has begun to exit, before
    ``sys.is_finalizing()`` turns true; its module flag is what it checks itself."""
    return sys.is_finalizing() or getattr(futures_thread, "_shutdown", False)
