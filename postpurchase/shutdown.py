"""A process-wide request to stop working, as SIGTERM (``systemctl restart``, a deploy,
Celery's warm shutdown) asks: emails already handed to the ESP are finished and
recorded, no new ones start, and what is left stays due for the next worker."""

from __future__ import annotations

import threading

_stopping = threading.Event()


def request_stop() -> None:
    _stopping.set()


def stopping() -> bool:
    return _stopping.is_set()


def clear() -> None:
    """Accept work again (a new scheduler loop in the same process, tests)."""
    _stopping.clear()
