"""What an exception from the email backend means for the message that raised it.

Four answers, each handled differently (see docs/production.md):

- ``CONFIG``: the shop's ESP set-up cannot send this (an unsupported feature, a bad API
  key, a missing package). Retrying cannot help: fail loudly and stop.
- ``REFUSED``: the ESP refuses this message for good (invalid address, 4xx).
- ``THROTTLED``: the ESP asks us to slow down (429): defer until ``Retry-After``
  without spending an attempt.
- ``TRANSIENT``: an outage, a 5xx, a timeout: retry with backoff. ``maybe_sent`` says
  the request may have reached the ESP (a read timeout), so a retry may duplicate.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from django.core.exceptions import ImproperlyConfigured

from postpurchase.privacy import redact

CONFIG = "config"
REFUSED = "refused"
THROTTLED = "throttled"
TRANSIENT = "transient"

# A throttled send waits at least this long, and a Retry-After is capped here.
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 6 * 3600.0
# Without a Retry-After a 429 defers this long.
DEFAULT_THROTTLE_SECONDS = 30.0

# Amazon SES (through boto3) names throttling in the error code, not an HTTP status.
_THROTTLE_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException"}


@dataclass(frozen=True)
class Verdict:
    kind: str
    error: str
    retry_after: float | None = None
    maybe_sent: bool = False
    # The recipient's address itself is refused: later emails to it would be too.
    address: bool = False


def describe(exc: BaseException, names: Iterable[str] = ()) -> str:
    """The exception as stored on the message and logged: without any email address
    (ESPs quote the recipient) or any of ``names`` (the recipient's)."""
    return redact(f"{type(exc).__name__}: {exc}", names)[:2000]


def classify(exc: BaseException, names: Iterable[str] = ()) -> Verdict:
    """Sort a send exception into CONFIG, REFUSED, THROTTLED or TRANSIENT. ``names``
    are the recipients' names, kept out of the error text."""
    error = describe(exc, names)
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return Verdict(REFUSED, error, address=True)
    if isinstance(
        exc,
        AnymailUnsupportedFeature
        | AnymailConfigurationError
        | AnymailImproperlyInstalled
        | ImproperlyConfigured,
    ):
        return Verdict(CONFIG, error)
    if isinstance(exc, AnymailSerializationError):
        return Verdict(REFUSED, error)
    if isinstance(exc, smtplib.SMTPException):
        return _classify_smtp(exc, error)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return _classify_http(status, response, error)
    boto = _boto_response(exc)
    if boto.get("Error", {}).get("Code") in _THROTTLE_CODES:
        return Verdict(THROTTLED, error, retry_after=DEFAULT_THROTTLE_SECONDS)
    boto_status = boto.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(boto_status, int):
        return _classify_http(boto_status, None, error)
    if isinstance(exc, requests.ConnectTimeout):
        return Verdict(TRANSIENT, error)
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return Verdict(TRANSIENT, error)
    if isinstance(exc, requests.RequestException):
        # A read timeout or a connection cut after the request went out: the ESP may
        # have accepted the email.
        return Verdict(TRANSIENT, error, maybe_sent=True)
    if _caused_by(exc, TimeoutError):
        # A timeout waiting for the answer (SMTP after DATA, botocore's read timeout).
        return Verdict(TRANSIENT, error, maybe_sent=True)
    return Verdict(TRANSIENT, error)


def _classify_http(status: int, response, error: str) -> Verdict:
    if 200 <= status < 300:
        # Accepted, but the answer could not be read (not JSON, an unexpected shape):
        # the email most likely left.
        return Verdict(TRANSIENT, error, maybe_sent=True)
    if status == 429:
        return Verdict(THROTTLED, error, retry_after=retry_after(response))
    if status in (401, 403):
        return Verdict(CONFIG, error)  # the API key or the sender is not accepted
    if status in (408, 409, 425) or status >= 500:
        hint = retry_after(response, default=None) if status == 503 else None
        return Verdict(TRANSIENT, error, retry_after=hint)
    if 400 <= status < 500:
        return Verdict(REFUSED, error)
    return Verdict(TRANSIENT, error)


def _classify_smtp(exc: smtplib.SMTPException, error: str) -> Verdict:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in (exc.recipients or {}).values() if isinstance(c, int)]
        if codes and all(400 <= c < 500 for c in codes):
            # Greylisting, "452 too many recipients": come back later.
            return Verdict(THROTTLED, error, retry_after=DEFAULT_THROTTLE_SECONDS)
        return Verdict(REFUSED, error, address=True)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        if 400 <= (exc.smtp_code or 0) < 500:
            return Verdict(TRANSIENT, error)
        return Verdict(REFUSED, error)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return Verdict(CONFIG, error)
    code = getattr(exc, "smtp_code", None)
    if code in (421, 450, 451, 452):
        return Verdict(THROTTLED, error, retry_after=DEFAULT_THROTTLE_SECONDS)
    if isinstance(code, int) and 500 <= code < 600:
        return Verdict(REFUSED, error)
    return Verdict(TRANSIENT, error, maybe_sent=isinstance(exc, smtplib.SMTPServerDisconnected))


def retry_after(response, default: float | None = DEFAULT_THROTTLE_SECONDS) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After")
    if value is None:
        return default
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


_NOT_CONNECTED = {"NewConnectionError", "ConnectionRefusedError", "NameResolutionError"}


def _chain(exc: BaseException):
    """``exc`` and what it was raised from, nearest first (bounded)."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return
        yield current
        current = current.__cause__ or current.__context__


def _never_connected(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request was sent
    (requests wraps urllib3's MaxRetryError, whose ``reason`` names the failure)."""
    for link in _chain(exc):
        if type(link).__name__ in _NOT_CONNECTED:
            return True
        for arg in link.args:
            if (
                isinstance(arg, BaseException)
                and {
                    type(arg).__name__,
                    type(getattr(arg, "reason", None)).__name__,
                }
                & _NOT_CONNECTED
            ):
                return True
    return False


def _caused_by(exc: BaseException, kind: type) -> bool:
    return any(isinstance(link, kind) for link in _chain(exc))


def _boto_response(exc: BaseException) -> dict:
    """The answer of an Amazon SES call (botocore's ClientError.response), if any."""
    for candidate in (exc, exc.__cause__):
        response = getattr(candidate, "response", None)
        if isinstance(response, dict):
            return response
    return {}
