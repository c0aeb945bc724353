"""Behaviour events (product viewed, cart updated) for customers we can email."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

import postpurchase
from postpurchase.exceptions import PostpurchaseError

logger = logging.getLogger(__name__)


def track_customer_event(
    request: HttpRequest, name: str, *, obj: Any = None, data: dict[str, Any] | None = None
) -> None:
    """Send ``postpurchase.track`` for a logged-in customer with an email; skip guests.

    A failed tracking call must never break the page the customer is looking at, so
    the app's own errors are logged, not raised.
    """
    user = getattr(request, "user", None)
    email = getattr(user, "email", "") if user is not None and user.is_authenticated else ""
    if not email:
        return
    try:
        postpurchase.track(name, email=email, obj=obj, data=data or {})
    except PostpurchaseError:
        logger.exception("postpurchase.track(%r) failed for %s", name, email)
