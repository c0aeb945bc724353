"""Fake ESP send APIs for tests: Anymail's real backends, only the HTTP layer faked.

Each fake answers like the ESP's own send endpoint (status codes and JSON bodies as its
API documents them) and keeps what it received, parsed: the payload, and from it the
metadata, email headers, tags and recipients as that ESP's API carries them. Payload
building, the HTTP session and response parsing are Anymail's production code::

    from postpurchase.testing.esp import fake_esp

    def test_thank_you_reaches_postmark(settings):
        with fake_esp("postmark") as esp:
            settings.EMAIL_BACKEND = esp.backend
            settings.ANYMAIL = esp.anymail
            ...  # place an order, run what is due
        assert esp.message_counts() == {str(message.pk): 1}

``fake_esp(name, mock=rsps)`` registers on a ``responses.RequestsMock`` you already
started; otherwise the fake starts (and, leaving the ``with``, stops) its own.
``esp.answer_next(429, headers={"Retry-After": "120"})`` makes the next request(s)
fail as the ESP would. ``responses`` patches ``requests`` for the whole process, so
requests made by postpurchase's sending threads are answered too.

Needs the ``responses`` package when called (``pip install responses``); importing
this module does not.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import getaddresses
from typing import Any
from urllib.parse import parse_qs

__all__ = ["ESPS", "FakeESP", "Received", "fake_esp"]

# (status, response headers, response body (dict/list for JSON, str, or None))
Answer = tuple[int, dict[str, str], Any]


@dataclass(frozen=True)
class Received:
    """One request the fake ESP received, and what it answered."""

    esp: str
    status: int
    payload: Any  # the parsed JSON body, or form fields {name: [values]} (Mailgun)
    metadata: dict[str, Any]
    headers: dict[str, str]  # the email's custom headers, as the API carries them
    tags: list[str]
    to: list[str]  # the To addresses as sent ("Name <local@domain>")
    # The id Anymail records for the email (anymail_status.message_id) when accepted.
    message_id: str
    thread: str  # name of the thread that made the request

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def recipients(self) -> list[str]:
        """The addr-specs of ``to``."""
        return [addr for _, addr in getaddresses(self.to)]


@dataclass(frozen=True)
class ESP:
    """How one ESP's send API looks on the wire."""

    name: str
    backend: str
    anymail: dict[str, Any]
    url: str | re.Pattern
    parse: Callable[[Any], Any]  # PreparedRequest -> payload
    accept: Callable[[Any], tuple[Answer, str]]  # payload -> (answer, message id)
    error: Callable[[int, str], Any]  # (status, message) -> error body
    metadata: Callable[[Any], dict]
    headers: Callable[[Any], dict]
    tags: Callable[[Any], list]
    to: Callable[[Any], list]
    method: str = "POST"


def _json(request) -> Any:
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body or "null")


def _form(request) -> dict[str, list[str]]:
    """An urlencoded or multipart form body as {field: [values]} (files left out)."""
    body = request.body or b""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/"):
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            if part.get_filename():
                continue
            name = part.get_param("name", header="content-disposition")
            fields.setdefault(name, []).append(part.get_content())
        return fields
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return parse_qs(body, keep_blank_values=True)


def _first(fields: dict[str, list[str]], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v[0] for k, v in fields.items() if k.startswith(prefix) and v}


def _split(value: str | None) -> list[str]:
    """Comma-separated addresses, split where the commas separate addresses."""
    if not value:
        return []
    parts, current, quoted, angle = [], "", False, False
    for char in value:
        if char == '"' and not angle:
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        if char == "," and not quoted and not angle:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _as_address(obj: dict) -> str:
    return f"{obj['name']} <{obj['email']}>" if obj.get("name") else obj["email"]


# --- Postmark ---------------------------------------------------------------------


def _postmark_accept(payload):
    message_id = str(uuid.uuid4())
    body = {
        "To": payload.get("To"),
        "SubmittedAt": "2026-11-23T10:00:00.0000000Z",
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }
    return (200, {}, body), message_id


def _postmark_error(status, message):
    # Postmark's API error codes: 10 bad token, 300 invalid email request, 429 rate.
    code = {401: 10, 422: 300, 429: 429}.get(status, 0)
    return {"ErrorCode": code, "Message": message}


POSTMARK = ESP(
    name="postmark",
    backend="anymail.backends.postmark.EmailBackend",
    anymail={"POSTMARK_SERVER_TOKEN": "test-server-token"},
    url="https://api.postmarkapp.com/email",
    parse=_json,
    accept=_postmark_accept,
    error=_postmark_error,
    metadata=lambda p: dict(p.get("Metadata") or {}),
    headers=lambda p: {h["Name"]: h["Value"] for h in p.get("Headers") or []},
    tags=lambda p: [p["Tag"]] if p.get("Tag") else [],
    to=lambda p: _split(p.get("To")),
)


# --- SendGrid (v3 mail/send) ------------------------------------------------------


def _sendgrid_accept(payload):
    # 202 with an empty body; Anymail records the anymail_id it put in custom_args.
    personalization = (payload.get("personalizations") or [{}])[0]
    message_id = (personalization.get("custom_args") or {}).get("anymail_id", "")
    esp_id = uuid.uuid4().hex[:22]
    return (202, {"X-Message-Id": esp_id}, None), message_id


def _sendgrid_metadata(payload):
    metadata = dict(payload.get("custom_args") or {})
    for personalization in payload.get("personalizations") or []:
        metadata.update(personalization.get("custom_args") or {})
    return metadata


def _sendgrid_headers(payload):
    headers = dict(payload.get("headers") or {})
    for personalization in payload.get("personalizations") or []:
        headers.update(personalization.get("headers") or {})
    return headers


SENDGRID = ESP(
    name="sendgrid",
    backend="anymail.backends.sendgrid.EmailBackend",
    anymail={"SENDGRID_API_KEY": "SG.test-api-key"},
    url="https://api.sendgrid.com/v3/mail/send",
    parse=_json,
    accept=_sendgrid_accept,
    error=lambda status, message: {"errors": [{"message": message, "field": None, "help": None}]},
    metadata=_sendgrid_metadata,
    headers=_sendgrid_headers,
    tags=lambda p: list(p.get("categories") or []),
    to=lambda p: [
        _as_address(to) for pers in p.get("personalizations") or [] for to in pers.get("to", [])
    ],
)


# --- Mailgun (form fields) --------------------------------------------------------


def _mailgun_accept(fields):
    sender = getaddresses(fields.get("from", [""]))[0][1]
    domain = sender.rpartition("@")[2] or "example.com"
    message_id = f"<20261123100000.{uuid.uuid4().hex[:16]}@{domain}>"
    return (200, {}, {"id": message_id, "message": "Queued. Thank you."}), message_id


MAILGUN = ESP(
    name="mailgun",
    backend="anymail.backends.mailgun.EmailBackend",
    anymail={"MAILGUN_API_KEY": "test-api-key"},
    url=re.compile(r"^https://api\.mailgun\.net/v3/[^/]+/messages$"),
    parse=_form,
    accept=_mailgun_accept,
    error=lambda status, message: {"message": message},
    metadata=lambda f: _first(f, "v:"),
    headers=lambda f: _first(f, "h:"),
    tags=lambda f: list(f.get("o:tag", [])),
    to=lambda f: [a for value in f.get("to", []) for a in _split(value)],
)


# --- Brevo (smtp/email) -----------------------------------------------------------


def _brevo_accept(payload):
    message_id = f"<202611231000.{uuid.uuid4().int % 10**11}@smtp-relay.mailin.fr>"
    return (201, {}, {"messageId": message_id}), message_id


def _brevo_metadata(payload):
    custom = (payload.get("headers") or {}).get("X-Mailin-custom")
    return json.loads(custom) if custom else {}


BREVO = ESP(
    name="brevo",
    backend="anymail.backends.brevo.EmailBackend",
    anymail={"BREVO_API_KEY": "xkeysib-test-api-key"},
    url="https://api.brevo.com/v3/smtp/email",
    parse=_json,
    accept=_brevo_accept,
    error=lambda status, message: {
        "code": {400: "invalid_parameter", 401: "unauthorized", 429: "too_many_requests"}.get(
            status, "internal_error"
        ),
        "message": message,
    },
    metadata=_brevo_metadata,
    headers=lambda p: dict(p.get("headers") or {}),
    tags=lambda p: list(p.get("tags") or []),
    to=lambda p: [_as_address(to) for to in p.get("to") or []],
)


# --- Resend (emails) --------------------------------------------------------------


def _resend_accept(payload):
    message_id = str(uuid.uuid4())
    return (200, {}, {"id": message_id}), message_id


def _resend_json_header(name):
    def read(payload):
        value = (payload.get("headers") or {}).get(name)
        return json.loads(value) if value else None

    return read


RESEND = ESP(
    name="resend",
    backend="anymail.backends.resend.EmailBackend",
    anymail={"RESEND_API_KEY": "re_test_api_key"},
    url="https://api.resend.com/emails",
    parse=_json,
    accept=_resend_accept,
    error=lambda status, message: {
        "statusCode": status,
        "name": {
            422: "validation_error",
            429: "rate_limit_exceeded",
            401: "missing_api_key",
        }.get(status, "application_error"),
        "message": message,
    },
    metadata=lambda p: _resend_json_header("X-Metadata")(p) or {},
    headers=lambda p: {
        k: v for k, v in (p.get("headers") or {}).items() if k not in ("X-Metadata", "X-Tags")
    },
    tags=lambda p: _resend_json_header("X-Tags")(p) or [],
    to=lambda p: list(p.get("to") or []),
)


ESPS: dict[str, ESP] = {esp.name: esp for esp in (POSTMARK, SENDGRID, MAILGUN, BREVO, RESEND)}


@dataclass
class FakeESP:
    """One ESP's send endpoint, faked; see the module's docstring."""

    esp: ESP
    mock: Any = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: deque[Callable[[Any], Answer | None]] = deque()
        self._own_mock = False

    # -- settings ----------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The dotted path for settings.EMAIL_BACKEND."""
        return self.esp.backend

    @property
    def anymail(self) -> dict[str, Any]:
        """The settings.ANYMAIL this ESP needs (a fake API key)."""
        return dict(self.esp.anymail)

    # -- life --------------------------------------------------------------------

    def start(self) -> FakeESP:
        import responses

        if self.mock is None:
            self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
            self.mock.start()
            self._own_mock = True
        self.mock.add_callback(self.esp.method, self.esp.url, callback=self._callback)
        return self

    def stop(self) -> None:
        if self._own_mock:
            self.mock.stop()
            self.mock.reset()
            self._own_mock = False

    def __enter__(self) -> FakeESP:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- answers -----------------------------------------------------------------

    def answer_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        message: str = "",
    ) -> None:
        """The next ``times`` requests get ``status`` (with ``body``, by default the
        ESP's own error body naming ``message``) instead of being accepted."""
        if body is None and status >= 400:
            body = self.esp.error(status, message or f"HTTP {status}")
        for _ in range(times):
            self._answers.append(lambda payload: (status, dict(headers or {}), body))

    def answer_with(self, answer: Callable[[Any], Answer | None]) -> None:
        """Answer the next request with ``answer(payload)`` (None: accept it)."""
        self._answers.append(answer)

    def _callback(self, request):
        payload = self.esp.parse(request)
        with self._lock:
            answer = self._answers.popleft() if self._answers else None
        result = answer(payload) if answer is not None else None
        message_id = ""
        if result is None:
            result, message_id = self.esp.accept(payload)
        status, headers, body = result
        self._record(payload, status, message_id)
        if body is not None and not isinstance(body, str | bytes):
            headers = {"Content-Type": "application/json", **headers}
            body = json.dumps(body)
        return status, headers, "" if body is None else body

    def _record(self, payload, status: int, message_id: str) -> None:
        esp = self.esp
        entry = Received(
            esp=esp.name,
            status=status,
            payload=payload,
            metadata=esp.metadata(payload),
            headers=esp.headers(payload),
            tags=esp.tags(payload),
            to=esp.to(payload),
            message_id=message_id,
            thread=threading.current_thread().name,
        )
        with self._lock:
            self.received.append(entry)

    # -- what arrived ------------------------------------------------------------

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.accepted]

    def message_counts(self, key: str = "postpurchase_message") -> Counter:
        """How many times each email (by the metadata ``key``) was accepted."""
        return Counter(r.metadata.get(key) for r in self.accepted)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._answers.clear()


def fake_esp(name: str, *, mock=None) -> FakeESP:
    """A fake of ESP ``name`` (one of ``ESPS``); use it as a context manager, or call
    ``start()`` (and ``stop()``) yourself. With ``mock`` (a started
    ``responses.RequestsMock``) the fake registers there and leaves it running."""
    try:
        esp = ESPS[name]
    except KeyError:
        raise ValueError(f"unknown ESP {name!r}; known: {', '.join(sorted(ESPS))}") from None
    return FakeESP(esp, mock=mock)
