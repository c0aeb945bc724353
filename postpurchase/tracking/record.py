"""Recording what an ESP (through Anymail's ``tracking`` signal) or first-party tracking
reports as MessageEvents, and acting on it: each open and click classified as human or
machine (:mod:`postpurchase.tracking.classify`), the roll-ups on the Message (first
delivery, human open / click, bounce, complaint, unsubscribe; open and click counts),
suppression, unsubscribe.

Anymail calls the signal once per event, after it has parsed and authenticated the
whole webhook post. Two ways to record, with the same outcome:

- :func:`record`, one event at a time (behind plain ``anymail.urls``, and first-party
  hits): :func:`record_many` of one event, in its own transaction; a concurrent replay
  is caught by the unique (esp, event_id) constraint and changes nothing.
- :func:`record_many`, a whole post at once (behind ``postpurchase.tracking.urls``, see
  :mod:`postpurchase.tracking.batch`): one transaction and a number of queries that
  does not grow with the events (lookups and updates are chunked only to stay under
  SQLite's 999 parameters per statement).

A replayed event is found by its (esp, event_id) and skipped before anything is
written, so no counter counts it twice and no signal goes out again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import IntegrityError, models, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Coalesce

from postpurchase import clock, signals
from postpurchase.conf import get_setting
from postpurchase.dataprotection.suppression import erased_addresses
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import Contact, Message, MessageEvent
from postpurchase.public.unsubscribe import withdraw_many
from postpurchase.tracking import classify

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

#: What tracking rolls up on the Message: the first time of each (kept once set) ...
FIRST_TIMES = (
    "opened_at",
    "clicked_at",
    "delivered_at",
    "bounced_at",
    "complained_at",
    "unsubscribed_at",
)
#: ... and how many opens and clicks, human and machine.
COUNTERS = ("opens", "machine_opens", "clicks", "machine_clicks")

#: What matching, classifying and rolling up read of a Message.
_MESSAGE_FIELDS = ("id", "contact_id", "enrollment_id", "esp_name", "to_email", "sent_at")
_MESSAGE_FIELDS += FIRST_TIMES

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
    if esp == classify.FIRST_PARTY:
        return True  # our own signed link named the message
    if esp and message.esp_name and esp_key(message.esp_name) != esp_key(esp):
        return False
    return not recipient or _same_address(recipient, message.to_email)


def _same_address(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def record(event: AnymailTrackingEvent, esp_name: str) -> MessageEvent | None:
    """Store ``event`` and apply what it means; the new MessageEvent, or None when the
    same event (same ESP and event id) was recorded before.

    :func:`record_many` with one event, in its own transaction; a concurrent post of
    the same event is caught by the unique (esp, event_id) constraint."""
    try:
        rows = record_many([(event, esp_name)])
    except IntegrityError:
        row, _ = _build(event, esp_name)
        if not MessageEvent.objects.filter(esp=row.esp, event_id=row.event_id).exists():
            raise
        logger.debug("postpurchase: ESP event %s/%s seen before, ignored", row.esp, row.event_id)
        return None
    return rows[0] if rows else None


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


# --- a whole post at once ------------------------------------------------------------

#: Ids per IN (...) lookup, and parameters per roll-up UPDATE: SQLite before 3.32
#: allows 999 parameters per statement.
LOOKUP_CHUNK = 900
UPDATE_PARAMETERS = 900


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
    sent them) in one transaction; the new MessageEvents. An event recorded before, or
    twice in ``events``, counts once.

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
        rollup = _Rollup()
        _demote(_classify_many(fresh), fresh, rollup)
        MessageEvent.objects.bulk_create([item.row for item in fresh])
        _apply_many(fresh, rollup)
        _forget_erased(fresh)
    logger.debug(
        "postpurchase: %d ESP events recorded, %d seen before",
        len(fresh),
        len(unique) - len(fresh),
    )
    return [item.row for item in fresh]


def _forget_erased(items: list[_Pending]) -> None:
    """An event naming no email of ours, addressed to an erased contact (the ESP reports
    late; the email went with the contact): keep the row, so a repeated post counts
    once, but nothing that identifies the person."""
    orphans = [item.row for item in items if item.message is None and item.row.recipient]
    erased = erased_addresses(row.recipient for row in orphans)
    for row in orphans:
        if row.recipient not in erased:
            continue
        blank = {"recipient": "", "raw": {}, "ip": None, "user_agent": "", "url": ""}
        blank.update(description="", mta_response="")
        MessageEvent.objects.filter(esp=row.esp, event_id=row.event_id).update(**blank)
        for name, value in blank.items():
            setattr(row, name, value)


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


# --- human or machine ------------------------------------------------------------------


#: {message pk: {event pk: time}}: stored human clicks found to be part of a burst.
Demotions = dict[Any, dict[Any, datetime]]


def _classify_many(items: list[_Pending]) -> Demotions:
    """Set ``machine`` / ``machine_reason`` on every open and click of ``items``: each
    sees its message's first delivery (stored, or reported in this post) and the
    message's other clicks close in time (stored, one query, or in this post).

    Returns the stored clicks a new burst or honeypot click shows to be a machine's
    too: the first click of a burst looked human when it came alone."""
    engaged = [item for item in items if item.row.kind in (Kind.OPENED, Kind.CLICKED)]
    demotions: Demotions = {}
    if not engaged:
        return demotions
    delivered: dict[Any, datetime] = {}
    clicks: dict[Any, list[_Pending]] = {}
    for item in items:
        message, row = item.message, item.row
        if message is None:
            continue
        times = [t for t in (delivered.get(message.pk), message.delivered_at) if t]
        if row.kind == Kind.DELIVERED:
            times.append(row.occurred_at)
        if times:
            delivered[message.pk] = min(times)
        if row.kind == Kind.CLICKED:
            clicks.setdefault(message.pk, []).append(item)
    stored = _stored_clicks(clicks)
    rules = classify.rules()
    window = get_setting("MACHINE_BURST_SECONDS")
    for item in engaged:
        row = item.row
        pk = item.message.pk if item.message is not None else None
        neighbours = [(at, url) for _, at, url, _ in stored.get(pk, ())]
        if row.kind == Kind.CLICKED and pk is not None:
            neighbours += [(o.row.occurred_at, o.row.url) for o in clicks[pk] if o is not item]
        hit = classify.Hit(row, item.raw, item.message, delivered.get(pk), neighbours)
        reason = classify.classify(hit, rules)
        row.machine, row.machine_reason = bool(reason), reason
        if reason in (classify.CLICK_BURST, classify.HONEYPOT):
            for event_pk, at, url, machine in stored.get(pk, ()):
                close = abs((at - row.occurred_at).total_seconds()) <= window
                if close and not machine and (url != row.url or reason == classify.HONEYPOT):
                    demotions.setdefault(pk, {})[event_pk] = at
    return demotions


def _stored_clicks(clicks: dict[Any, list[_Pending]]) -> dict[Any, list[tuple]]:
    """(pk, time, url, machine) of the clicks already stored for these messages, within
    the burst window of this post's clicks; one query per chunk of messages."""
    found: dict[Any, list[tuple]] = {}
    if not clicks:
        return found
    times = [item.row.occurred_at for group in clicks.values() for item in group]
    window = timedelta(seconds=get_setting("MACHINE_BURST_SECONDS"))
    for chunk in _chunks(sorted(clicks, key=str), LOOKUP_CHUNK):
        rows = MessageEvent.objects.filter(
            message_id__in=chunk,
            kind=Kind.CLICKED,
            occurred_at__gte=min(times) - window,
            occurred_at__lte=max(times) + window,
        ).order_by()
        fields = ("message_id", "pk", "occurred_at", "url", "machine")
        for message_id, *click in rows.values_list(*fields):
            found.setdefault(message_id, []).append(tuple(click))
    return found


def _demote(demotions: Demotions, items: list[_Pending], rollup: _Rollup) -> None:
    """Reclassify the stored clicks in ``demotions`` as a burst's: their events, the
    counters and, where one of them was the first human click (or open), the first
    times, found again among the human events left (one query per chunk)."""
    if not demotions:
        return
    event_pks = sorted((pk for found in demotions.values() for pk in found), key=str)
    for chunk in _chunks(event_pks, LOOKUP_CHUNK):
        MessageEvent.objects.filter(pk__in=chunk, machine=False).update(
            machine=True, machine_reason=classify.CLICK_BURST
        )
    messages = {item.message.pk: item.message for item in items if item.message is not None}
    affected = []
    for pk, found in demotions.items():
        message = messages[pk]
        rollup.count(message, "clicks", -len(found))
        rollup.count(message, "machine_clicks", len(found))
        times = set(found.values())
        if message.clicked_at in times or message.opened_at in times:
            affected.append(pk)
        logger.debug("postpurchase: %d clicks of message %s were a burst", len(found), pk)
    firsts: dict[tuple[Any, str], datetime] = {}
    for chunk in _chunks(affected, LOOKUP_CHUNK):
        rows = (
            MessageEvent.objects.filter(
                message_id__in=chunk, machine=False, kind__in=(Kind.OPENED, Kind.CLICKED)
            )
            .order_by()
            .values("message_id", "kind")
            .annotate(first=Min("occurred_at"))
        )
        firsts.update({(row["message_id"], row["kind"]): row["first"] for row in rows})
    for pk in affected:
        message, times = messages[pk], set(demotions[pk].values())
        click = firsts.get((pk, Kind.CLICKED))
        if message.clicked_at in times:
            rollup.reset_first(message, "clicked_at", click)
        if message.opened_at in times:
            left = [t for t in (firsts.get((pk, Kind.OPENED)), click) if t is not None]
            rollup.reset_first(message, "opened_at", min(left, default=None))


# --- what the events mean ----------------------------------------------------------------


class _Rollup:
    """What a post changes on its Messages: first times (set where still empty; reset
    where a burst took them back) and counter increments, written in one UPDATE per
    chunk of messages."""

    def __init__(self) -> None:
        self.current: dict[Any, dict[str, Any]] = {}  # message pk -> first times as they stand
        self.first: dict[Any, dict[str, datetime]] = {}  # message pk -> first times to write
        self.reset: dict[Any, dict[str, datetime | None]] = {}  # ... to overwrite first
        self.counts: dict[Any, dict[str, int]] = {}

    def reset_first(self, message: Message, name: str, at: datetime | None) -> None:
        """Overwrite the message's first ``name`` (the one it had was a machine's)."""
        self.current.setdefault(message.pk, {})[name] = at
        self.reset.setdefault(message.pk, {})[name] = at

    def set_first(self, message: Message, name: str, at: datetime) -> bool:
        """Note ``at`` as the message's first ``name`` unless it has one; True if set."""
        values = self.current.setdefault(message.pk, {})
        if name not in values:
            values[name] = getattr(message, name)
        if values[name] is not None:
            return False
        values[name] = at
        self.first.setdefault(message.pk, {})[name] = at
        return True

    def count(self, message: Message, name: str, step: int = 1) -> None:
        counts = self.counts.setdefault(message.pk, {})
        counts[name] = counts.get(name, 0) + step

    def _cost(self, pk: Any) -> int:
        dates = len(self.first.get(pk, {})) + len(self.reset.get(pk, {}))
        return 1 + 2 * dates + len(self.counts.get(pk, {}))

    def _groups(self) -> Iterable[list[Any]]:
        group: list[Any] = []
        cost = 0
        for pk in sorted(set(self.first) | set(self.reset) | set(self.counts), key=str):
            if group and cost + self._cost(pk) > UPDATE_PARAMETERS:
                yield group
                group, cost = [], 0
            group.append(pk)
            cost += self._cost(pk)
        if group:
            yield group

    def write(self) -> None:
        """COALESCE keeps a first time a concurrent post wrote first; counters add."""
        when = models.DateTimeField()
        number = models.IntegerField()
        for group in self._groups():
            updates: dict[str, Any] = {}
            for name in FIRST_TIMES:
                resets = _whens(group, self.reset, name, when)
                whens = _whens(group, self.first, name, when)
                now = Case(*resets, default=F(name), output_field=when) if resets else F(name)
                if whens:
                    updates[name] = Coalesce(now, Case(*whens, output_field=when))
                elif resets:
                    updates[name] = now
            for name in COUNTERS:
                whens = _whens(group, self.counts, name, number)
                if whens:
                    updates[name] = F(name) + Case(*whens, default=Value(0), output_field=number)
            Message.objects.filter(pk__in=group).update(**updates)


def _whens(group: list[Any], values: dict[Any, dict[str, Any]], name: str, field) -> list[When]:
    """``WHEN pk IN (...) THEN value`` for the messages of ``group`` with a ``name`` in
    ``values``, one per distinct value: a post's events share their seconds, and each
    WHEN costs Django time to build."""
    by_value: dict[Any, list[Any]] = {}
    for pk in group:
        if name in values.get(pk, {}):
            by_value.setdefault(values[pk][name], []).append(pk)
    return [
        When(pk__in=pks, then=Value(value, output_field=field))
        for value, pks in by_value.items()
        if value != 0
    ]


def _engagement(item: _Pending, rollup: _Rollup) -> None:
    """Count an open or click of a message and announce it. The first human open / click
    fills opened_at / clicked_at (a click is an open too: images may be blocked)."""
    row, message = item.row, item.message
    at, opened = row.occurred_at, row.kind == Kind.OPENED
    if row.machine:
        rollup.count(message, "machine_opens" if opened else "machine_clicks")
        first = False
    elif opened:
        rollup.count(message, "opens")
        first = rollup.set_first(message, "opened_at", at)
    else:
        rollup.count(message, "clicks")
        first = rollup.set_first(message, "clicked_at", at)
        if first:
            rollup.set_first(message, "opened_at", at)
    machine = row.machine
    if opened:
        signals.emit(
            signals.message_opened,
            Message,
            message=message,
            event=row,
            first=first,
            machine=machine,
        )
    else:
        signals.emit(
            signals.message_clicked,
            Message,
            message=message,
            event=row,
            first=first,
            machine=machine,
        )


def _apply_many(items: list[_Pending], rollup: _Rollup) -> None:
    """Apply ``items`` in order with grouped writes (roll-ups on the messages,
    suppressions, unsubscribes). The signals are registered in the order the ESP listed
    the events and go out after the commit (none if it rolls back)."""
    for item in items:
        if item.message is None or item.row.kind not in (Kind.OPENED, Kind.CLICKED):
            item.reason = suppression_reason(item.row, item.raw)
            item.unsubscribing = is_unsubscribe(item.row)
    contacts = _contacts([item for item in items if item.reason or item.unsubscribing])
    now = clock.now()
    suppressed: dict[str, list[Any]] = {}  # reason -> contact pks
    unsubscribed: list[Any] = []
    withdrawals: list[tuple[Contact, str, Message | None]] = []  # for the consent history
    for item in items:
        row, message, kind = item.row, item.message, item.row.kind
        if message is not None and kind in (Kind.OPENED, Kind.CLICKED):
            _engagement(item, rollup)
            continue
        if message is not None:
            at = row.occurred_at
            if kind == Kind.DELIVERED:
                rollup.set_first(message, "delivered_at", at)
            elif kind == Kind.COMPLAINED:
                rollup.set_first(message, "complained_at", at)
            if item.reason in (HARD_BOUNCE, INVALID):
                rollup.set_first(message, "bounced_at", at)
            if item.unsubscribing:
                rollup.set_first(message, "unsubscribed_at", at)
        contact = _contact_of(item, contacts) if item.reason or item.unsubscribing else None
        if contact is not None and item.reason and contact.suppressed_at is None:
            reason = item.reason[:64]
            contact.suppressed_at, contact.suppression_reason = now, reason
            suppressed.setdefault(reason, []).append(contact.pk)
            logger.info("postpurchase: contact %s suppressed (%s)", contact.pk, reason)
            signals.emit(
                signals.contact_suppressed, Contact, contact=contact, reason=item.reason, event=row
            )
        if contact is not None and item.reason == COMPLAINT:
            withdrawals.append((contact, "complaint", message))
        if contact is not None and item.unsubscribing and contact.unsubscribed_at is None:
            contact.unsubscribed_at = now
            unsubscribed.append(contact.pk)
            withdrawals.append((contact, "esp", message))
            signals.emit(
                signals.unsubscribed, Contact, contact=contact, message=message, source="esp"
            )
        if kind == Kind.BOUNCED:
            hard = item.reason in (HARD_BOUNCE, INVALID)
            signals.emit(signals.message_bounced, Message, message=message, event=row, hard=hard)
        elif kind == Kind.COMPLAINED:
            signals.emit(signals.message_complained, Message, message=message, event=row)
    rollup.write()
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
