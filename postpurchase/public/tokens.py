"""Signed tokens for the public links in emails (unsubscribe, NPS survey, preference
centre, first-party tracking of opens and clicks), made with
``django.core.signing``.

Each kind has its own salt, so one kind's token is refused by another's page, and its
own maximum age (``POSTPURCHASE["TOKEN_MAX_AGE_DAYS"]``). Tokens are timestamped by
:mod:`postpurchase.clock`, so links age with the app's clock in simulations and tests.
A token that is tampered with, foreign or carries a malformed payload raises
``signing.BadSignature``; a genuine one past its age raises :class:`TokenExpired`
(a ``signing.SignatureExpired``, so a BadSignature too) carrying its parsed payload.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.core import signing
from django.urls import reverse

from postpurchase import clock
from postpurchase.conf import site_url, token_max_age_days

UNSUBSCRIBE_SALT = "postpurchase.unsubscribe"
NPS_SALT = "postpurchase.nps"
TRACK_SALT = "postpurchase.track"
PREFERENCES_SALT = "postpurchase.preferences"
SALTS = {
    "unsubscribe": UNSUBSCRIBE_SALT,
    "nps": NPS_SALT,
    "track": TRACK_SALT,
    "preferences": PREFERENCES_SALT,
}

#: The largest primary key a 64-bit integer column holds; larger ids are malformed.
MAX_ID = 2**63 - 1

T = TypeVar("T")


class TokenExpired(signing.SignatureExpired):
    """A genuine token older than its kind's maximum age; ``data`` is its payload."""

    def __init__(self, data: Any):
        super().__init__("This link has expired")
        self.data = data


class _Signer(signing.TimestampSigner):
    """Timestamps from postpurchase.clock instead of time.time(); the same format."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(clock.now().timestamp()))

    def unsign(self, value: str, max_age: float | timedelta | None = None) -> str:
        value, stamp = signing.Signer.unsign(self, value).rsplit(self.sep, 1)
        if max_age is not None:
            if isinstance(max_age, timedelta):
                max_age = max_age.total_seconds()
            age = clock.now().timestamp() - signing.b62_decode(stamp)
            if age > max_age:
                raise signing.SignatureExpired(f"Signature age {age} > {max_age} seconds")
        return value


def make_token(kind: str, payload: Any, *, compress: bool = False) -> str:
    return _Signer(salt=SALTS[kind]).sign_object(payload, compress=compress)


def read_token(kind: str, token: str, parse: Callable[[Any], T]) -> T:
    """``parse(payload)`` of a genuine, unexpired token of ``kind``. ``parse`` raises
    ``signing.BadSignature`` for a payload it does not accept."""
    signer = _Signer(salt=SALTS[kind])
    max_age = timedelta(days=token_max_age_days(kind))
    try:
        try:
            payload = signer.unsign_object(token, max_age=max_age)
        except signing.SignatureExpired:
            # Genuine, only too old: say so (in the customer's language).
            raise TokenExpired(parse(signer.unsign_object(token))) from None
    except (ValueError, zlib.error) as exc:
        # Correctly signed, but not base64 or JSON (a value signed by other code).
        raise signing.BadSignature(f"Malformed {kind} token") from exc
    return parse(payload)


def parse_id(value: Any) -> int:
    """A positive integer primary key, else ``signing.BadSignature``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise signing.BadSignature("Malformed id in token")
    return value


def parse_uuid(value: Any) -> str:
    """A UUID primary key (as the canonical string), else ``signing.BadSignature``."""
    if not isinstance(value, str) or len(value) > 36:
        raise signing.BadSignature("Malformed id in token")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise signing.BadSignature("Malformed id in token") from None


# --- unsubscribe ----------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeToken:
    contact_id: int
    message_id: str | None


def _contact_link_token(kind: str, contact_id: int, message_id: str | None) -> str:
    payload: dict[str, Any] = {"c": contact_id}
    if message_id:
        payload["m"] = str(message_id)
    return make_token(kind, payload, compress=True)


def make_unsubscribe_token(contact_id: int, message_id: str | None = None) -> str:
    return _contact_link_token("unsubscribe", contact_id, message_id)


def _contact_link_data(data: Any) -> UnsubscribeToken:
    if not isinstance(data, dict):
        raise signing.BadSignature("Malformed token")
    message_id = data.get("m")
    return UnsubscribeToken(
        contact_id=parse_id(data.get("c")),
        message_id=None if message_id is None else parse_uuid(message_id),
    )


def read_unsubscribe_token(token: str) -> UnsubscribeToken:
    """Raise ``signing.BadSignature`` for a tampered, foreign or malformed token, and
    :class:`TokenExpired` for one past ``TOKEN_MAX_AGE_DAYS["unsubscribe"]``."""
    return read_token("unsubscribe", token, _contact_link_data)


def unsubscribe_url(contact_id: int, message_id: str | None = None) -> str:
    """Absolute URL of the unsubscribe page (GET shows it, POST unsubscribes)."""
    token = make_unsubscribe_token(contact_id, message_id)
    return site_url() + reverse("postpurchase:unsubscribe", args=[token])


# --- NPS survey -----------------------------------------------------------------------


def make_nps_token(message_id: Any) -> str:
    return make_token("nps", {"m": str(message_id)})


def _nps_data(data: Any) -> str:
    if not isinstance(data, dict):
        raise signing.BadSignature("Malformed NPS token")
    return parse_uuid(data.get("m"))


def read_nps_token(token: str) -> str:
    """The message id a survey token was made for; ``signing.BadSignature`` if tampered,
    made for something else (another salt) or malformed, :class:`TokenExpired` past
    ``TOKEN_MAX_AGE_DAYS["nps"]``."""
    return read_token("nps", token, _nps_data)


# --- first-party tracking (postpurchase.tracking.links) ------------------------------


@dataclass(frozen=True)
class TrackToken:
    """A tracked link of one message: the open pixel (``url`` None), a link of the email
    (``url``, its destination, signed with it), or the hidden honeypot link."""

    message_id: str
    url: str | None = None
    honeypot: bool = False


def make_track_token(message_id: Any, url: str | None = None, *, honeypot: bool = False) -> str:
    payload: dict[str, Any] = {"m": str(message_id)}
    if url is not None:
        payload["u"] = url
    if honeypot:
        payload["h"] = 1
    return make_token("track", payload, compress=True)


def _track_data(data: Any) -> TrackToken:
    if not isinstance(data, dict):
        raise signing.BadSignature("Malformed tracking token")
    url = data.get("u")
    if url is not None and (
        not isinstance(url, str) or not url.lower().startswith(("http://", "https://"))
    ):
        raise signing.BadSignature("Malformed destination in tracking token")
    return TrackToken(parse_uuid(data.get("m")), url, data.get("h") == 1)


def read_track_token(token: str) -> TrackToken:
    """``signing.BadSignature`` if tampered, of another kind or malformed;
    :class:`TokenExpired` past ``TOKEN_MAX_AGE_DAYS["track"]``."""
    return read_token("track", token, _track_data)


def track_open_url(message_id: Any) -> str:
    """Absolute URL of the message's open pixel."""
    return site_url() + reverse("postpurchase:track_open", args=[make_track_token(message_id)])


def track_click_url(message_id: Any, url: str, *, honeypot: bool = False) -> str:
    """Absolute URL that records a click of the message and redirects to ``url``."""
    token = make_track_token(message_id, url, honeypot=honeypot)
    return site_url() + reverse("postpurchase:track_click", args=[token])


# --- preference centre ------------------------------------------------------------------


def make_preferences_token(contact_id: int, message_id: str | None = None) -> str:
    return _contact_link_token("preferences", contact_id, message_id)


def read_preferences_token(token: str) -> UnsubscribeToken:
    """The contact (and email) a preference-centre link was made for; like
    :func:`read_unsubscribe_token`, with ``TOKEN_MAX_AGE_DAYS["preferences"]``."""
    return read_token("preferences", token, _contact_link_data)


def preferences_url(contact_id: int, message_id: str | None = None) -> str:
    """Absolute URL of the preference centre (GET shows it, POST saves the choices)."""
    token = make_preferences_token(contact_id, message_id)
    return site_url() + reverse("postpurchase:preferences", args=[token])
