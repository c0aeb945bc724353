"""The one place the app asks what time it is.

Engine code calls :func:`now` instead of ``timezone.now()`` so a simulation (the demo's
``--simulate``, tests) can move time forward without waiting.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.utils import timezone

_state = threading.local()


def now() -> datetime:
    frozen = getattr(_state, "frozen", None)
    return frozen if frozen is not None else timezone.now()


@contextlib.contextmanager
def frozen_at(moment: datetime) -> Iterator[SimulatedClock]:
    """Freeze :func:`now` at ``moment`` in this thread; advance it with the yielded clock."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at() needs an aware datetime")
    previous = getattr(_state, "frozen", None)
    clock = SimulatedClock(moment)
    try:
        yield clock
    finally:
        _state.frozen = previous


class SimulatedClock:
    def __init__(self, moment: datetime):
        self.set(moment)

    @property
    def now(self) -> datetime:
        return _state.frozen

    def set(self, moment: datetime) -> None:
        _state.frozen = moment

    def advance(self, delta: timedelta) -> datetime:
        self.set(_state.frozen + delta)
        return _state.frozen
