"""Anymail's tracking signal -> :func:`postpurchase.tracking.record.record`, or the
enclosing :func:`postpurchase.tracking.batch.batch`."""

from __future__ import annotations

from anymail.signals import AnymailTrackingEvent, tracking

from postpurchase.tracking.batch import collect
from postpurchase.tracking.record import record


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    # Inside postpurchase.tracking.urls the post's events are recorded together when
    # the view returns. Otherwise one by one: raising makes Anymail answer 500, so the
    # ESP posts the batch again later; the events recorded before the error are then
    # found and skipped.
    if not collect(event, esp_name):
        record(event, esp_name)


def connect() -> None:
    """Receive every ESP's tracking events (called from ``PostpurchaseConfig.ready``)."""
    tracking.connect(on_tracking, dispatch_uid="postpurchase.tracking")
