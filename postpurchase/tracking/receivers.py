"""Anymail's tracking signal -> :func:`postpurchase.tracking.record.record`."""

from __future__ import annotations

from anymail.signals import AnymailTrackingEvent, tracking

from postpurchase.tracking.record import record


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    # Raising makes Anymail answer 500, so the ESP posts the batch again later; the
    # events recorded before the error are then found and skipped.
    record(event, esp_name)


def connect() -> None:
    """Receive every ESP's tracking events (called from ``PostpurchaseConfig.ready``)."""
    tracking.connect(on_tracking, dispatch_uid="postpurchase.tracking")
