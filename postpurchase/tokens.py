"""Signed tokens for public links (unsubscribe), made with ``django.core.signing``."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

from .conf import site_url

UNSUBSCRIBE_SALT = "postpurchase.unsubscribe"


@dataclass(frozen=True)
class UnsubscribeToken:
    contact_id: int
    message_id: str | None


def make_unsubscribe_token(contact_id: int, message_id: str | None = None) -> str:
    payload = {"c": contact_id}
    if message_id:
        payload["m"] = str(message_id)
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> UnsubscribeToken:
    """Raise ``signing.BadSignature`` for a tampered or foreign token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise signing.BadSignature("Malformed unsubscribe token")
    return UnsubscribeToken(contact_id=data["c"], message_id=data.get("m"))


def unsubscribe_url(contact_id: int, message_id: str | None = None) -> str:
    """Absolute URL of the unsubscribe page (GET shows it, POST unsubscribes)."""
    token = make_unsubscribe_token(contact_id, message_id)
    return site_url() + reverse("postpurchase:unsubscribe", args=[token])
