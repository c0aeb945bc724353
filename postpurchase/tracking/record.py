"""Recording what an ESP reports (through Anymail's ``tracking`` signal) as MessageEvents,
and acting on it: first open / click, suppression, unsubscribe.

Anymail calls the signal once per event, after it has parsed and authenticated the
whole webhook post. Two ways to record:

- :func:`record`, one event at a time (behind plain ``anymail.urls``): one indexed
  lookup of its Message and one transaction per event (the insert, plus an update for a
  first open, a bounce, a complaint); a replay is caught by the unique (esp, event_id)
  constraint and changes nothing.
- :func:`record_many`, a whole post at once (behind ``postpurchase.tracking.urls``, see
  :mod:`postpurchase.tracking.batch`): the same outcome, signals and order, in one
  transaction and a number of queries that does not grow with the events (lookups and
  updates are chunked only to stay under SQLite's 999 parameters per statement).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Coalesce

from postpurchase import clock, signals
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import Contact, Message, MessageEvent
from postpurchase.public.unsubscribe import unsubscribe, withdraw, withdraw_many

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


def sent_by(message: Message, esp: str, recipient: str | None) -> bool:
    """Is ``message`` the one an event of ``esp`` about ``recipient`` can be about: sent
    through that ESP (when we know which) and, where the event names a recipient, to
    that address?"""
    if esp and message.esp_name and esp_key(message.esp_name) != esp_key(esp):
        return False
    return not recipient or _same_address(recipient, message.to_email)


def _same_address(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def record(event: AnymailTrackingEvent, esp_name: str) -> MessageEvent | None:
    """Store ``event`` and apply what it means; the new MessageEvent, or None when the
    same event (same ESP and event id) was recorded before."""
    row, raw = _build(event, esp_name)
    esp, event_id = row.esp, row.event_id
    message = find_message(event, esp)
    row.message_id = message.pk if message else None
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
    key = message_key(event)
    if key is None:
        return None
    field, value = key
    candidates = Message.objects.only(*_MESSAGE_FIELDS).order_by().filter(**{field: value})
    for message in candidates[:20]:
        if sent_by(message, esp, event.recipient):
            return message
    return None


def message_key(event: AnymailTrackingEvent) -> tuple[str, Any] | None:
    """How to find the event's Message: ("pk", uuid) from our metadata, else
    ("esp_message_id", id); None when the event names neither. A metadata id that is a
    UUID is final (no fallback), one that is not is not ours."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    key = metadata.get(META_MESSAGE)
    if key:
        try:
            return ("pk", uuid.UUID(str(key)))
        except ValueError:
            pass  # not one of ours: try the ESP's message id
    if event.message_id:
        return ("esp_message_id", str(event.message_id)[:255])
    return None


def _build(event: AnymailTrackingEvent, esp_name: str) -> tuple[MessageEvent, Any]:
    """The unsaved MessageEvent for ``event`` (no message yet) and its raw ESP event."""
    raw = _plain(event.esp_event)
    row = MessageEvent(
        esp=(esp_name or "").strip().lower()[:50],
        event_id=str(event.event_id)[:255] if event.event_id else _digest(raw),
        kind=KINDS.get(event.event_type, Kind.UNKNOWN),
        occurred_at=event.timestamp if isinstance(event.timestamp, datetime) else clock.now(),
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
    return row, raw


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
    unsubscribing = is_unsubscribe(row)
    if reason or unsubscribing:
        contact = _contact(row, message)
        if contact is not None and reason:
            suppress(contact, reason, row)
        if contact is not None and reason == COMPLAINT:
            withdraw(contact, "complaint", message=message)  # in the consent history
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


def is_unsubscribe(row: MessageEvent) -> bool:
    """Does the event say the recipient unsubscribed (or the ESP refused for that)?"""
    return row.kind == Kind.UNSUBSCRIBED or (
        row.kind == Kind.REJECTED and row.reject_reason == RejectReason.UNSUBSCRIBED
    )


def _still_at(contact: Contact | None, row: MessageEvent) -> Contact | None:
    """``contact``, unless the event's address is not theirs any more (a late bounce of
    an old address says nothing about the new one)."""
    if contact is not None and row.recipient and not _same_address(row.recipient, contact.email):
        return None
    return contact


def _contact(row: MessageEvent, message: Message | None) -> Contact | None:
    """The contact the event's address belongs to: not a contact who has since changed
    to another address (a late bounce of the old one says nothing about the new)."""
    if message is not None:
        return _still_at(Contact.objects.filter(pk=message.contact_id).first(), row)
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


# --- a whole post at once ------------------------------------------------------------

#: Ids per IN (...) lookup, and messages per grouped update (5 parameters each): SQLite
#: before 3.32 allows 999 parameters per statement.
LOOKUP_CHUNK = 900
UPDATE_CHUNK = 150


@dataclass
class _Pending:
    row: MessageEvent
    raw: Any
    key: tuple[str, Any] | None
    message: Message | None = None
    reason: str = ""
    unsubscribing: bool = False


def record_many(events: Sequence[tuple[AnymailTrackingEvent, str]]) -> list[MessageEvent]:
    """Store and apply ``events`` (pairs of event and ESP name, in the order the ESP
    sent them) as :func:`record` would one after the other, in one transaction; the new
    MessageEvents. An event recorded before, or twice in ``events``, counts once.

    A concurrent post that records one of the same events between our check and our
    insert makes this raise IntegrityError (all rolled back): the ESP posts again and
    the retry skips what is recorded."""
    unique: dict[tuple[str, str], _Pending] = {}
    for event, esp_name in events:
        row, raw = _build(event, esp_name)
        unique.setdefault((row.esp, row.event_id), _Pending(row, raw, message_key(event)))
    if not unique:
        return []
    with transaction.atomic():
        seen = _recorded(unique)
        fresh = [item for key, item in unique.items() if key not in seen]
        if not fresh:
            logger.debug("postpurchase: %d ESP events seen before, ignored", len(unique))
            return []
        messages = _messages({item.key for item in fresh if item.key is not None})
        for item in fresh:
            candidates = messages.get(item.key, []) if item.key else []
            item.message = next(
                (m for m in candidates if sent_by(m, item.row.esp, item.row.recipient)), None
            )
            item.row.message_id = item.message.pk if item.message else None
        MessageEvent.objects.bulk_create([item.row for item in fresh])
        _apply_many(fresh)
    logger.debug(
        "postpurchase: %d ESP events recorded, %d seen before",
        len(fresh),
        len(unique) - len(fresh),
    )
    return [item.row for item in fresh]


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _recorded(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (esp, event_id) pairs are stored already."""
    by_esp: dict[str, list[str]] = {}
    for esp, event_id in keys:
        by_esp.setdefault(esp, []).append(event_id)
    seen: set[tuple[str, str]] = set()
    for esp, ids in by_esp.items():
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            rows = MessageEvent.objects.filter(esp=esp, event_id__in=chunk).order_by()
            seen.update(rows.values_list("esp", "event_id"))
    return seen


def _messages(keys: set[tuple[str, Any]]) -> dict[tuple[str, Any], list[Message]]:
    """Our Messages by their :func:`message_key` (an ESP id may name several, of other
    ESPs): one query by pk, one by ESP id."""
    found: dict[tuple[str, Any], list[Message]] = {}
    fields = Message.objects.only(*_MESSAGE_FIELDS).order_by()
    for field in ("pk", "esp_message_id"):
        values = sorted(str(v) for f, v in keys if f == field)
        for chunk in _chunks(values, LOOKUP_CHUNK):
            for message in fields.filter(**{f"{field}__in": chunk}):
                value = message.pk if field == "pk" else message.esp_message_id
                found.setdefault((field, value), []).append(message)
    return found


def _apply_many(items: list[_Pending]) -> None:
    """:func:`_apply` for each item, in order, with grouped writes; the signals are
    emitted afterwards in the order one-by-one recording would emit them."""
    for item in items:
        if item.message is None or item.row.kind not in (Kind.OPENED, Kind.CLICKED):
            item.reason = suppression_reason(item.row, item.raw)
            item.unsubscribing = is_unsubscribe(item.row)
    contacts = _contacts([item for item in items if item.reason or item.unsubscribing])
    now = clock.now()
    opened: dict[Any, datetime | None] = {}  # message pk -> opened_at as it stands
    clicked: dict[Any, datetime | None] = {}
    new_opened: dict[Any, datetime] = {}
    new_clicked: dict[Any, datetime] = {}
    suppressed: dict[str, list[Any]] = {}  # reason -> contact pks
    unsubscribed: list[Any] = []
    withdrawals: list[tuple[Contact, str, Message | None]] = []  # for the consent history
    emits: list[tuple[Any, type, dict[str, Any]]] = []
    for item in items:
        row, message, kind = item.row, item.message, item.row.kind
        if message is not None and kind in (Kind.OPENED, Kind.CLICKED):
            pk, at = message.pk, row.occurred_at
            opened.setdefault(pk, message.opened_at)
            clicked.setdefault(pk, message.clicked_at)
            if kind == Kind.OPENED:
                first = opened[pk] is None
                if first:
                    opened[pk] = new_opened[pk] = at
                kwargs = {"message": message, "event": row, "first": first}
                emits.append((signals.message_opened, Message, kwargs))
            else:
                first = clicked[pk] is None
                if first:
                    clicked[pk] = new_clicked[pk] = at
                    if opened[pk] is None:  # a click is an open too
                        opened[pk] = new_opened[pk] = at
                kwargs = {"message": message, "event": row, "first": first}
                emits.append((signals.message_clicked, Message, kwargs))
            continue
        contact = _contact_of(item, contacts) if item.reason or item.unsubscribing else None
        if contact is not None and item.reason and contact.suppressed_at is None:
            reason = item.reason[:64]
            contact.suppressed_at, contact.suppression_reason = now, reason
            suppressed.setdefault(reason, []).append(contact.pk)
            logger.info("postpurchase: contact %s suppressed (%s)", contact.pk, reason)
            kwargs = {"contact": contact, "reason": item.reason, "event": row}
            emits.append((signals.contact_suppressed, Contact, kwargs))
        if contact is not None and item.reason == COMPLAINT:
            withdrawals.append((contact, "complaint", message))
        if contact is not None and item.unsubscribing and contact.unsubscribed_at is None:
            contact.unsubscribed_at = now
            unsubscribed.append(contact.pk)
            withdrawals.append((contact, "esp", message))
            kwargs = {"contact": contact, "message": message, "source": "esp"}
            emits.append((signals.unsubscribed, Contact, kwargs))
        if kind == Kind.BOUNCED:
            hard = item.reason in (HARD_BOUNCE, INVALID)
            kwargs = {"message": message, "event": row, "hard": hard}
            emits.append((signals.message_bounced, Message, kwargs))
        elif kind == Kind.COMPLAINED:
            emits.append((signals.message_complained, Message, {"message": message, "event": row}))
    _fill_first_many(new_opened, new_clicked)
    # The IS NULL conditions keep what a concurrent post wrote first.
    for reason, pks in suppressed.items():
        for chunk in _chunks(pks, LOOKUP_CHUNK):
            Contact.objects.filter(pk__in=chunk, suppressed_at__isnull=True).update(
                suppressed_at=now, suppression_reason=reason, updated_at=now
            )
    for chunk in _chunks(unsubscribed, LOOKUP_CHUNK):
        Contact.objects.filter(pk__in=chunk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=now, updated_at=now
        )
    withdraw_many(withdrawals)
    for signal, sender, kwargs in emits:
        signals.emit(signal, sender, **kwargs)


def _fill_first_many(opened: dict[Any, datetime], clicked: dict[Any, datetime]) -> None:
    """Set each message's first open / click in one UPDATE per chunk; COALESCE keeps a
    value a concurrent post wrote first."""
    field = models.DateTimeField()
    for chunk in _chunks(sorted(set(opened) | set(clicked), key=str), UPDATE_CHUNK):
        updates: dict[str, Any] = {}
        for name, values in (("opened_at", opened), ("clicked_at", clicked)):
            whens = [When(pk=pk, then=Value(values[pk])) for pk in chunk if pk in values]
            if whens:
                updates[name] = Coalesce(name, Case(*whens, output_field=field))
        Message.objects.filter(pk__in=chunk).update(**updates)


def _contacts(items: list[_Pending]) -> dict[Any, Contact]:
    """The contacts ``items`` name (their message's contact, else the recipient's
    address), by pk and by email, in one query per chunk."""
    pks = {item.message.contact_id for item in items if item.message is not None}
    emails = {
        item.row.recipient.strip().lower()
        for item in items
        if item.message is None and item.row.recipient
    }
    found: dict[Any, Contact] = {}
    if not pks and not emails:
        return found
    pks_list, emails_list = sorted(pks, key=str), sorted(emails)
    for start in range(0, max(len(pks_list), len(emails_list)), LOOKUP_CHUNK):
        chunk_pks = pks_list[start : start + LOOKUP_CHUNK]
        chunk_emails = emails_list[start : start + LOOKUP_CHUNK]
        for contact in Contact.objects.filter(Q(pk__in=chunk_pks) | Q(email__in=chunk_emails)):
            found[contact.pk] = found[("email", contact.email)] = contact
    return found


def _contact_of(item: _Pending, contacts: dict[Any, Contact]) -> Contact | None:
    if item.message is not None:
        return _still_at(contacts.get(item.message.contact_id), item.row)
    if item.row.recipient:
        return contacts.get(("email", item.row.recipient.strip().lower()))
    return None


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
