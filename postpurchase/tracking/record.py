"""Recording what an ESP reports (through Anymail's ``tracking`` signal) as MessageEvents,
and acting on it: first open / click, suppression, unsubscribe.

Anymail calls the signal once per event, after it has parsed and authenticated the
whole webhook post. Each event costs one indexed lookup of its Message and one
transaction (the insert, plus an update for a first open, a bounce, a complaint); a
replay is caught by the unique (esp, event_id) constraint and changes nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce

from postpurchase import clock, signals
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import Contact, Message, MessageEvent
from postpurchase.public.unsubscribe import unsubscribe

logger = logging.getLogger("postpurchase.tracking")

Kind = MessageEvent.Kind

#: Anymail's normalized event type -> our kind (autoresponded, subscribed, ...: unknown).
KINDS: dict[str, str] = {
    EventType.QUEUED: Kind.QUEUED,
    EventType.SENT: Kind.SENT,
    EventType.DELIVERED: Kind.DELIVERED,
    EventType.DEFERRED: Kind.DEFERRED,
    EventType.BOUNCED: Kind.BOUNCED,
    EventType.REJECTED: Kind.REJECTED,
    EventType.FAILED: Kind.FAILED,
    EventType.COMPLAINED: Kind.COMPLAINED,
    EventType.UNSUBSCRIBED: Kind.UNSUBSCRIBED,
    EventType.OPENED: Kind.OPENED,
    EventType.CLICKED: Kind.CLICKED,
}

#: The raw ESP event is kept when its JSON is at most this long (a click carries a URL,
#: a bounce an SMTP transcript); longer ones keep only their size.
RAW_MAX_CHARS = 8000

#: Contact.suppression_reason values this module writes.
HARD_BOUNCE = "hard_bounce"
INVALID = "invalid"
COMPLAINT = "complaint"

#: A rejection for these reasons means the address must not be mailed again: the ESP
#: found it invalid, or already has it on its own bounce or complaint list.
SUPPRESSING_REJECTS = {
    RejectReason.INVALID: INVALID,
    RejectReason.BOUNCED: HARD_BOUNCE,
    RejectReason.SPAM: COMPLAINT,
}

_MESSAGE_FIELDS = (
    "id",
    "contact_id",
    "enrollment_id",
    "opened_at",
    "clicked_at",
    "esp_name",
    "to_email",
)

#: Anymail's names of ESPs (webhooks say "Amazon SES", backends "amazon_ses") and the
#: older name of one, to compare where an event and a message came from.
_ESP_ALIASES = {"sendinblue": "brevo"}


def esp_key(name: str | None) -> str:
    key = "".join(c for c in (name or "").lower() if c.isalnum())
    return _ESP_ALIASES.get(key, key)


def _same_address(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def record(event: AnymailTrackingEvent, esp_name: str) -> MessageEvent | None:
    """Store ``event`` and apply what it means; the new MessageEvent, or None when the
    same event (same ESP and event id) was recorded before."""
    esp = (esp_name or "").strip().lower()[:50]
    raw = _plain(event.esp_event)
    event_id = str(event.event_id)[:255] if event.event_id else _digest(raw)
    message = find_message(event, esp)
    row = MessageEvent(
        esp=esp,
        event_id=event_id,
        kind=KINDS.get(event.event_type, Kind.UNKNOWN),
        occurred_at=event.timestamp if isinstance(event.timestamp, datetime) else clock.now(),
        message_id=message.pk if message else None,
        esp_message_id=_text(event.message_id, 255),
        recipient=_text(event.recipient, 254),
        url=_text(event.click_url, 4000),
        user_agent=_text(event.user_agent, 500),
        ip=_ip(raw),
        reject_reason=_text(event.reject_reason, 20),
        description=_text(event.description, 2000),
        mta_response=_text(event.mta_response, 2000),
        raw=_trimmed(raw),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            _apply(row, message, raw)
    except IntegrityError:
        if not MessageEvent.objects.filter(esp=esp, event_id=event_id).exists():
            raise
        logger.debug("postpurchase: ESP event %s/%s seen before, ignored", esp, event_id)
        return None
    logger.debug(
        "postpurchase: ESP event %s/%s (%s) for message %s",
        esp,
        event_id,
        row.kind,
        row.message_id,
    )
    return row


def find_message(event: AnymailTrackingEvent, esp: str = "") -> Message | None:
    """Our Message the event is about: by the id we put in its metadata, else by the
    message id the ESP returned when it accepted the email; indexed queries.

    A message matches only if the ESP reporting is the one that sent it and, where the
    event names a recipient, it was sent to that address. Our message ids are not
    secret (they are in unsubscribe links) and ESP message ids repeat across ESPs
    ("12345"), so neither alone may decide whose contact a bounce suppresses."""
    fields = Message.objects.only(*_MESSAGE_FIELDS).order_by()
    key = (event.metadata or {}).get(META_MESSAGE) if isinstance(event.metadata, dict) else None
    candidates: list[Message] = []
    if key:
        try:
            candidates = list(fields.filter(pk=uuid.UUID(str(key))))
        except ValueError:
            pass  # not one of ours: try the ESP's message id
    if not candidates and event.message_id:
        candidates = list(fields.filter(esp_message_id=str(event.message_id)[:255])[:20])
    for message in candidates:
        if esp and message.esp_name and esp_key(message.esp_name) != esp_key(esp):
            continue
        if event.recipient and not _same_address(event.recipient, message.to_email):
            continue
        return message
    return None


def is_hard_bounce(event: MessageEvent, raw: Any) -> bool:
    """A bounce that will not go away: Anymail reports some ESPs' soft bounces as
    ``bounced`` too (Postmark SoftBounce, Brevo soft_bounce, SendGrid "blocked",
    Resend and Amazon SES "Transient", MailerSend soft_bounced, SparkPost's soft
    bounce classes), which are told apart by the raw event."""
    if event.kind != Kind.BOUNCED:
        return False
    if event.reject_reason not in ("", RejectReason.BOUNCED, RejectReason.INVALID):
        return False  # blocked, timed out, virus, other: not the address's fault
    if not isinstance(raw, dict):
        return True
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    ses = raw.get("bounce") if isinstance(raw.get("bounce"), dict) else {}
    msys = raw.get("msys") if isinstance(raw.get("msys"), dict) else {}
    sparkpost = msys.get("message_event") if isinstance(msys.get("message_event"), dict) else {}
    soft = (
        raw.get("Type") == "SoftBounce"  # Postmark
        or raw.get("event") == "soft_bounce"  # Brevo
        or (raw.get("event") == "bounce" and raw.get("type") == "blocked")  # SendGrid
        or bounce.get("type") == "Transient"  # Resend
        or ses.get("bounceType") in ("Transient", "Undetermined")  # Amazon SES
        or raw.get("type") == "activity.soft_bounced"  # MailerSend
        # SparkPost: only the invalid-recipient classes are hard (10, 30, 90).
        or (
            "bounce_class" in sparkpost
            and str(sparkpost.get("bounce_class")) not in SPARKPOST_HARD_CLASSES
        )
    )
    return not soft


#: SparkPost's bounce classes for an address that does not exist or refuses for good.
SPARKPOST_HARD_CLASSES = ("10", "30", "90")


def suppression_reason(event: MessageEvent, raw: Any) -> str:
    """Why ``event`` stops all email to its address ("" when it does not)."""
    if event.kind == Kind.COMPLAINED:
        return COMPLAINT
    if event.kind == Kind.REJECTED:
        return SUPPRESSING_REJECTS.get(event.reject_reason, "")
    if is_hard_bounce(event, raw):
        return INVALID if event.reject_reason == RejectReason.INVALID else HARD_BOUNCE
    return ""


def _apply(row: MessageEvent, message: Message | None, raw: Any) -> None:
    kind = row.kind
    if message is not None and kind in (Kind.OPENED, Kind.CLICKED):
        _engagement(row, message)
        return
    reason = suppression_reason(row, raw)
    unsubscribing = kind == Kind.UNSUBSCRIBED or (
        kind == Kind.REJECTED and row.reject_reason == RejectReason.UNSUBSCRIBED
    )
    if reason or unsubscribing:
        contact = _contact(row, message)
        if contact is not None and reason:
            suppress(contact, reason, row)
        if contact is not None and unsubscribing:
            unsubscribe(contact, message=message, source="esp")
    if kind == Kind.BOUNCED:
        hard = reason in (HARD_BOUNCE, INVALID)
        signals.emit(signals.message_bounced, Message, message=message, event=row, hard=hard)
    elif kind == Kind.COMPLAINED:
        signals.emit(signals.message_complained, Message, message=message, event=row)


def _engagement(row: MessageEvent, message: Message) -> None:
    """Fill the first open / click and announce it."""
    first = _fill_first(row, message)
    if row.kind == Kind.OPENED:
        signals.emit(signals.message_opened, Message, message=message, event=row, first=first)
    else:
        signals.emit(signals.message_clicked, Message, message=message, event=row, first=first)


def _fill_first(row: MessageEvent, message: Message) -> bool:
    """True if ``row`` is the message's first open / click (a click is an open too:
    images may be blocked)."""
    at = row.occurred_at
    unset = Message.objects.filter(pk=message.pk)
    if row.kind == Kind.OPENED:
        return bool(unset.filter(opened_at__isnull=True).update(opened_at=at))
    return bool(
        unset.filter(clicked_at__isnull=True).update(
            clicked_at=at, opened_at=Coalesce("opened_at", at)
        )
    )


def _contact(row: MessageEvent, message: Message | None) -> Contact | None:
    """The contact the event's address belongs to: not a contact who has since changed
    to another address (a late bounce of the old one says nothing about the new)."""
    if message is not None:
        contact = Contact.objects.filter(pk=message.contact_id).first()
        if (
            contact is not None
            and row.recipient
            and not _same_address(row.recipient, contact.email)
        ):
            return None
        return contact
    if row.recipient:
        return Contact.objects.filter(email=row.recipient.strip().lower()).first()
    return None


def suppress(contact: Contact, reason: str, event: MessageEvent | None = None) -> bool:
    """Stop all email to ``contact`` from the next claim on; True if this changed
    anything (an already suppressed contact keeps its first reason and time)."""
    now = clock.now()
    changed = Contact.objects.filter(pk=contact.pk, suppressed_at__isnull=True).update(
        suppressed_at=now, suppression_reason=reason[:64], updated_at=now
    )
    if changed:
        contact.suppressed_at, contact.suppression_reason = now, reason[:64]
        logger.info("postpurchase: contact %s suppressed (%s)", contact.pk, reason)
        signals.emit(
            signals.contact_suppressed, Contact, contact=contact, reason=reason, event=event
        )
    return bool(changed)


# --- helpers -------------------------------------------------------------------------


def _plain(esp_event: Any) -> Any:
    """The raw event as JSON-able data (Mailgun's legacy form posts are QueryDicts)."""
    if hasattr(esp_event, "lists"):
        return {key: values if len(values) > 1 else values[0] for key, values in esp_event.lists()}
    return esp_event


def _digest(raw: Any) -> str:
    """An event id for ESPs that give none: the same raw event gives the same id."""
    blob = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _trimmed(raw: Any) -> Any:
    try:
        blob = json.dumps(raw, default=str)
    except (TypeError, ValueError):
        return {"unserializable": True}
    if len(blob) > RAW_MAX_CHARS:
        return {"truncated": len(blob)}
    return raw if isinstance(raw, dict | list) else {"value": blob}


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def _ip(raw: Any) -> str | None:
    """The opener's / clicker's address where the ESP gives one."""
    if not isinstance(raw, dict):
        return None
    data = raw.get("event-data") if isinstance(raw.get("event-data"), dict) else {}
    geo = raw.get("Geo") if isinstance(raw.get("Geo"), dict) else {}
    resend = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    click = resend.get("click") if isinstance(resend.get("click"), dict) else {}
    for value in (raw.get("ip"), data.get("ip"), geo.get("IP"), click.get("ipAddress")):
        if value:
            try:
                return str(ipaddress.ip_address(str(value).strip()))
            except ValueError:
                continue
    return None
