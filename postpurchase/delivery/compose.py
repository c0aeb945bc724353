"""Turning a rendered email into the AnymailMessage every Anymail backend accepts.

What goes on the message is what all of Anymail's ESPs take: at most the tags
``POSTPURCHASE["TAGS"]`` names (one by default: Postmark, Amazon SES, SparkPost,
Mailjet, Mailtrap and Postal refuse more), metadata with short keys and string values
(Postmark: keys up to 20 characters), plain headers, no merge data.
"""

from __future__ import annotations

from email.headerregistry import Address
from functools import cache
from typing import TYPE_CHECKING, Any

from anymail.exceptions import AnymailInvalidAddress
from anymail.message import AnymailMessage
from django.conf import settings
from django.utils.module_loading import import_string

from postpurchase.conf import get_setting
from postpurchase.email.rendering import RenderedEmail, one_line
from postpurchase.public.tokens import unsubscribe_url
from postpurchase.tracking.links import track_html, tracks

if TYPE_CHECKING:
    from postpurchase.models import EmailStep, Message

# Metadata keys (each at most 20 characters, Postmark's limit).
META_MESSAGE = "postpurchase_message"
META_FLOW = "postpurchase_flow"
META_STEP = "postpurchase_step"


#: ESPs whose Anymail backend takes a message stream, and the esp_extra key it goes in.
STREAM_KEYS = {"postmark": "MessageStream"}


def from_email(category: str | None = None) -> str:
    """The From address of ``category``'s email: ``FROM_EMAILS[category]``, else
    ``FROM_EMAIL``, else ``DEFAULT_FROM_EMAIL``. Marketing from its own address (or
    subdomain) keeps complaints about it off the order emails' reputation."""
    by_category = get_setting("FROM_EMAILS").get(category or "")
    return by_category or get_setting("FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL


def stream_extra(category: str) -> dict[str, str]:
    """The esp_extra that puts ``category``'s email on its ESP message stream
    (``MESSAGE_STREAMS``); empty when none is set or the ESP has no streams (the system
    check postpurchase.W007 reports that)."""
    stream = get_setting("MESSAGE_STREAMS").get(category)
    key = STREAM_KEYS.get(esp_name())
    return {key: stream} if stream and key else {}


def recipient(name: str, email: str) -> str:
    """``"Name" <local@domain>`` as email standards want it: the name quoted where it
    needs quoting (commas, quotes), and an international domain in its IDNA (punycode)
    form, which every ESP accepts. Raises AnymailInvalidAddress, naming the problem (not
    the address: the error is stored and logged)."""
    local, sep, domain = (email or "").strip().rpartition("@")
    if not sep or not local or not domain:
        raise AnymailInvalidAddress("invalid recipient address: no local part or domain")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise AnymailInvalidAddress(
            "invalid domain in the recipient address: it cannot be written in IDNA"
        ) from exc
    addr_spec = f"{local}@{ascii_domain}"
    name = one_line(name or "")
    if not name:
        return addr_spec
    try:
        return str(Address(display_name=name, addr_spec=addr_spec))
    except (ValueError, IndexError) as exc:
        raise AnymailInvalidAddress(
            "invalid recipient address or name: they cannot form an email header"
        ) from exc


def tags_for(step: EmailStep | None, category: str) -> list[str]:
    values = {
        "category": category,
        "flow": f"flow-{step.flow_id}" if step is not None else "",
        "step": f"step-{step.pk}" if step is not None else "",
        "template": getattr(getattr(step, "template", None), "slug", "") or "",
    }
    return [values[kind] for kind in get_setting("TAGS") if values.get(kind)]


def idempotency_headers(key: object) -> dict[str, str]:
    """The headers that carry ``key`` (a Message's or StepRecord's UUID) as the
    idempotency key: ``IDEMPOTENCY_HEADER``, and Brevo's own, which its API honours."""
    headers = {}
    key_header = get_setting("IDEMPOTENCY_HEADER")
    if key_header:
        headers[key_header] = str(key)
    if esp_name() in ("brevo", "sendinblue"):
        # Brevo's API takes its idempotency key (a UUID) among the email's headers.
        headers["idempotencyKey"] = str(key)
    return headers


def build_email(
    message: Message, rendered: RenderedEmail, step: EmailStep | None
) -> AnymailMessage:
    """The email for ``message``: recipient, subject, text and HTML, unsubscribe headers
    for marketing, the message id as metadata and idempotency key."""
    contact = message.contact
    headers = idempotency_headers(message.pk)
    if message.category == "marketing":
        # RFC 8058 one-click unsubscribe: mail clients POST to this URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(contact.pk, message.pk)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    metadata = {META_MESSAGE: str(message.pk)}
    if step is not None:
        metadata[META_FLOW] = str(step.flow_id)
        metadata[META_STEP] = str(step.pk)
    email = AnymailMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_email(message.category),
        to=[recipient(contact.full_name, message.to_email or contact.email)],
        headers=headers,
        metadata=metadata,
        tags=tags_for(step, message.category),
    )
    extra = stream_extra(message.category)
    if extra:
        email.esp_extra = extra
    email.attach_alternative(sending_html(message, rendered), "text/html")
    return email


def html_part(email: Any) -> str | None:
    """The HTML alternative of a built email (None if it has none)."""
    for content, mimetype in getattr(email, "alternatives", None) or ():
        if mimetype == "text/html":
            return content
    return None


def sending_html(message: Message, rendered: RenderedEmail) -> str:
    """The HTML as it is sent: with first-party tracking where it applies (previews,
    test sends and the admin's view of a message never come through here)."""
    if tracks(message.category):
        return track_html(rendered.html, message.pk)
    return rendered.html


@cache
def _esp_name(backend: str) -> str:
    """Anymail's name of the ESP ("postmark", "brevo"), else the backend's module."""
    try:
        name = getattr(import_string(backend), "esp_name", "")
    except ImportError:
        name = ""
    if name:
        return str(name).lower()
    parts = backend.split(".")
    return parts[-2] if len(parts) >= 2 else backend


def esp_name() -> str:
    return _esp_name(settings.EMAIL_BACKEND)[:50]
