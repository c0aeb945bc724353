"""What a step tells the engine after it ran: go on, wait, jump, exit or fail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class StepResult:
    """Base class; use one of the subclasses below."""


@dataclass(frozen=True)
class Next(StepResult):
    """Done with this step: go on with the next one at once."""


@dataclass(frozen=True)
class Wait(StepResult):
    """Run this same step again at ``until`` (a delay, or a retry after an error).

    A wait with an ``error`` counts as a failed attempt of the step (the enrollment's
    ``attempts``), unless ``counts`` is False (throttled by the ESP, or not started)."""

    until: datetime
    error: str = ""
    counts: bool = True


@dataclass(frozen=True)
class JumpTo(StepResult):
    """Continue at another step of the same flow."""

    step: Any


@dataclass(frozen=True)
class Exit(StepResult):
    """End the enrollment early, with a reason shown in admin and sent with the signal."""

    reason: str


@dataclass(frozen=True)
class Fail(StepResult):
    """The step cannot run (e.g. its template is broken): halt this enrollment with the
    error so staff can fix the flow and retry it. Other enrollments go on."""

    error: str
