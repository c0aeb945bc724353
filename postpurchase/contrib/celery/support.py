"""Whether the ``celery`` extra is installed and Celery mode is on (imports neither)."""

from __future__ import annotations

from importlib.util import find_spec

from postpurchase.conf import DEFAULTS, user_settings
from postpurchase.exceptions import PostpurchaseConfigurationError


def _installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        return False


CELERY_INSTALLED = _installed("celery")
BEAT_INSTALLED = _installed("django_celery_beat")


def celery_mode() -> bool:
    """``POSTPURCHASE["EXECUTION"]`` is ``"celery"``; a malformed value is not (system
    check E003 reports it), so this never raises."""
    try:
        return user_settings().get("EXECUTION", DEFAULTS["EXECUTION"]) == "celery"
    except PostpurchaseConfigurationError:
        return False
