"""The retry policy shared by everything that tries again: when, and when to give up.

Waits double from ``RETRY_BACKOFF_SECONDS`` up to ``RETRY_BACKOFF_MAX_SECONDS``. An
email counts its attempts against ``MAX_SEND_ATTEMPTS``; a step that raises for one
enrollment counts against ``MAX_STEP_ATTEMPTS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from postpurchase.conf import get_setting
from postpurchase.results import Fail, StepResult, Wait


def backoff(attempts: int, now: datetime) -> datetime:
    """When attempt ``attempts + 1`` may run."""
    delay = min(
        get_setting("RETRY_BACKOFF_SECONDS") * 2 ** max(attempts - 1, 0),
        get_setting("RETRY_BACKOFF_MAX_SECONDS"),
    )
    return now + timedelta(seconds=delay)


def send_given_up(attempts: int) -> bool:
    """Has a send (an email, a staff notification) used up its ``MAX_SEND_ATTEMPTS``?"""
    return attempts >= get_setting("MAX_SEND_ATTEMPTS")


def retry_send(attempts: int, now: datetime, error: str, retry_after: float = 0) -> Wait:
    """Try a send again with backoff, no sooner than the ESP's ``Retry-After``."""
    until = backoff(attempts, now)
    if retry_after:
        until = max(until, now + timedelta(seconds=retry_after))
    return Wait(until=until, error=error)


def retry_step(step, attempts_so_far: int, now: datetime, error: str) -> StepResult:
    """A step raised for one enrollment (``attempts_so_far`` failed before): try again
    with backoff, and after ``MAX_STEP_ATTEMPTS`` fail it with its own error."""
    attempts = attempts_so_far + 1
    if attempts >= get_setting("MAX_STEP_ATTEMPTS"):
        return Fail(f"Step {step} failed {attempts} times: {error}")
    return Wait(until=backoff(attempts, now), error=error)
