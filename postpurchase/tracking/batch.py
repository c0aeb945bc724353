"""Recording a webhook post's events together: :func:`batch` makes the tracking
receiver collect the events Anymail's view sends one by one, and records them all with
:func:`postpurchase.tracking.record.record_many` when the view returns.

A flush that fails raises out of the view, so Django answers 500 and the ESP posts the
batch again; nothing of it is recorded (one transaction), so nothing is acknowledged
half-done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from anymail.signals import AnymailTrackingEvent

from postpurchase.tracking.record import record_many

_buffer: ContextVar[list[tuple[AnymailTrackingEvent, str]] | None] = ContextVar(
    "postpurchase_tracking_batch", default=None
)


@contextmanager
def batch() -> Iterator[None]:
    """Collect tracking events sent inside the block; record them when it ends without
    an error (an error, such as Anymail refusing the post's signature, records none)."""
    collected: list[tuple[AnymailTrackingEvent, str]] = []
    token = _buffer.set(collected)
    try:
        yield
    finally:
        _buffer.reset(token)
    record_many(collected)


def collect(event: AnymailTrackingEvent, esp_name: str) -> bool:
    """Keep ``event`` for the enclosing :func:`batch`; False when there is none."""
    collected = _buffer.get()
    if collected is None:
        return False
    collected.append((event, esp_name))
    return True


def batched(view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` (one of Anymail's webhook views, authentication and all) with its
    tracking events recorded together when it returns."""

    @functools.wraps(view)  # keeps csrf_exempt, login_required=False, view_class
    def wrapper(request, *args, **kwargs):
        with batch():
            return view(request, *args, **kwargs)

    return wrapper
