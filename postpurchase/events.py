"""Turning what happens in the shop into events: ``track()`` and the inbound signals."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from postpurchase import consent, signals
from postpurchase.adapters import (
    adapter_user,
    clean_snapshot,
    email_problem,
    enforce_order_types,
    get_adapter,
    strip_nul,
    warn_stripped,
)
from postpurchase.conf import get_setting
from postpurchase.engine import record_event, upsert_contact
from postpurchase.exceptions import AdapterError, InvalidEventError
from postpurchase.models import Event

_NAME_MAX = 100
#: What Event.ref and Event.order_ref (and Enrollment.order_ref) hold.
_REF_MAX = 200
logger = logging.getLogger("postpurchase.events")


def clean_ref(value: Any, field: str, error: type[Exception] = InvalidEventError) -> str:
    """A reference (an order's, an object's) as the events table holds it: NUL
    characters removed with a warning; longer than 200 characters is an ``error``
    naming ``field``, since a cut reference could match another order."""
    found: list[str] = []
    text = strip_nul(str(value), field, found)
    warn_stripped(found)
    if len(text) > _REF_MAX:
        raise error(f"{field} must be at most {_REF_MAX} characters; got {len(text)}")
    return text


def object_ref(obj: Any) -> str:
    """ "app_label.model:pk" for a model instance, or str(obj) for anything else."""
    meta = getattr(obj, "_meta", None)
    if meta is not None:
        return f"{meta.label_lower}:{obj.pk}"
    return str(obj)


def track(
    name: str,
    *,
    email: str,
    obj: Any = None,
    data: dict[str, Any] | None = None,
    order_ref: str = "",
    contact: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Record a custom event (e.g. ``product_viewed``) for the customer with ``email``.

    Enrolls them in live flows triggered by ``name`` and exits flows that list it as an
    exit event. ``data`` must be JSON-serializable (templates see it as ``event``);
    an order snapshot under ``data["order"]`` becomes the enrollment's snapshot, which
    templates see as ``order``.
    ``contact`` may carry first_name, last_name, locale and timezone, and
    ``marketing_consent`` (see docs/consent.md).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > _NAME_MAX or "\x00" in name:
        raise InvalidEventError(
            f"An event name must be a non-empty string of at most {_NAME_MAX} "
            f"characters without NUL; got {name!r}"
        )
    if data is not None and not isinstance(data, dict):
        raise InvalidEventError(f"Event data must be a dict; got {type(data).__name__}")
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise InvalidEventError("occurred_at must be timezone-aware")
    problem = email_problem(email)
    if problem:
        # Named, not quoted: the error is logged, and an address is personal data.
        raise InvalidEventError(f"'email' is not a valid email address: {problem}")
    try:
        payload = clean_snapshot({**(data or {}), "email": email}, what="event")
    except ValueError as exc:
        raise InvalidEventError(str(exc)) from exc
    payload.pop("email")
    snapshot = payload.pop("order", None) or {}
    if not isinstance(snapshot, dict):
        raise InvalidEventError("data['order'] must be a dict (an order snapshot)")
    try:
        enforce_order_types(snapshot, what="data['order']")
    except ValueError as exc:
        raise InvalidEventError(str(exc)) from exc
    ref = clean_ref(object_ref(obj), "ref (the object)") if obj is not None else ""
    order_ref = clean_ref(order_ref or snapshot.get("ref") or "", "order_ref")
    details = dict(contact or {})
    if "marketing_consent" in snapshot:  # the order's checkout checkbox, as track_order reads it
        details.setdefault("marketing_consent", snapshot["marketing_consent"])
    who = upsert_contact(email, details)
    if name.strip() in consent.ORDER_EVENTS:
        consent.note_purchase(who)  # an existing customer now: soft opt-in
    return record_event(
        name.strip(),
        who,
        ref=ref,
        order_ref=order_ref,
        data=payload,
        snapshot=snapshot,
        occurred_at=occurred_at,
    )


def track_order(name: str, order: Any, data: dict[str, Any] | None = None) -> Event:
    """Record an order event: snapshot the order through the adapter, then track it."""
    adapter = get_adapter()
    ref = clean_ref(adapter.order_ref(order), "The adapter's order_ref()", AdapterError)
    snapshot = clean_snapshot(adapter.order_snapshot(order))
    snapshot.setdefault("ref", ref)
    user = adapter_user(adapter, order, snapshot["email"])
    contact = upsert_contact(snapshot["email"], snapshot, user=user)
    if name in consent.ORDER_EVENTS:
        consent.note_purchase(contact)  # an existing customer now: soft opt-in
    return record_event(name, contact, ref=ref, order_ref=ref, data=data, snapshot=snapshot)


def track_review(review: Any, data: dict[str, Any] | None = None) -> Event:
    adapter = get_adapter()
    ref = clean_ref(adapter.review_ref(review), "The adapter's review_ref()", AdapterError)
    snapshot = clean_snapshot(adapter.review_snapshot(review), what="review")
    order_ref = clean_ref(snapshot.get("order_ref") or "", "review.order_ref", AdapterError)
    user = adapter_user(adapter, review, snapshot["email"])
    contact = upsert_contact(snapshot["email"], snapshot, user=user)
    return record_event(
        "review_submitted",
        contact,
        ref=ref,
        order_ref=order_ref,
        data={**(data or {}), "review": snapshot},
    )


def guarded(func, *args) -> Event | None:
    """Run an inbound-signal handler inside a savepoint, so a failure of ours never
    breaks the shop's checkout transaction. ``SIGNAL_ERRORS`` = "log" (default) logs the
    error and returns None; "raise" re-raises it (useful in development and tests)."""
    try:
        with transaction.atomic():
            return func(*args)
    except Exception:
        if get_setting("SIGNAL_ERRORS") == "raise":
            raise
        logger.exception("postpurchase: handling %s failed; the shop's action goes on", args[0])
        return None


def _order_receiver(event_name: str):
    def receive(sender, order=None, data=None, **kwargs):
        if order is None:
            raise InvalidEventError(f"{event_name} must be sent with order=<the order>")
        guarded(track_order, event_name, order, data)

    receive.__name__ = f"on_{event_name}"
    return receive


def on_review_submitted(sender, review=None, data=None, **kwargs):
    if review is None:
        raise InvalidEventError("review_submitted must be sent with review=<the review>")
    guarded(_track_review_event, "review_submitted", review, data)


def _track_review_event(_name: str, review: Any, data: dict[str, Any] | None) -> Event:
    return track_review(review, data)


def connect_inbound_signals() -> None:
    for name, signal in signals.ORDER_SIGNALS.items():
        signal.connect(_order_receiver(name), weak=False, dispatch_uid=f"postpurchase.{name}")
    signals.review_submitted.connect(
        on_review_submitted, weak=False, dispatch_uid="postpurchase.review_submitted"
    )
