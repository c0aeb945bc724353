"""Consent to marketing email: recording each change (history + current state) and
deciding, once per batch before sending, which contacts a marketing email may go to.

The legal basis is ``POSTPURCHASE["MARKETING_LEGAL_BASIS"]`` (docs/consent.md):

- ``"soft_opt_in"``: marketing goes to contacts who granted consent and to existing
  customers (a soft opt-in, recorded at their first order event), until they withdraw
  (EU/UK PECR reg. 22);
- ``"consent"``: only to contacts who granted consent explicitly (Russia's advertising
  law, art. 18 of 38-FZ).

Transactional email never asks this module anything but the erased list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

from postpurchase import clock, signals
from postpurchase.conf import get_setting
from postpurchase.dataprotection.suppression import erased_addresses
from postpurchase.exceptions import InvalidEventError
from postpurchase.models import (
    Consent,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    Contact,
    EmailFrequency,
    Event,
    MarketingTopic,
    Message,
    Purpose,
)

if TYPE_CHECKING:
    from postpurchase.models import EmailStep

#: The marketing sub-categories, in the order the preference centre shows them.
TOPICS = tuple(MarketingTopic.values)
#: Events that make a contact an existing customer (soft opt-in).
ORDER_EVENTS = ("order_placed", "order_paid", "order_shipped", "order_delivered")
#: What the shop's checkout may pass as ``marketing_consent`` -> source.
CHECKOUT_SOURCES = (ConsentSource.CHECKOUT, ConsentSource.ACCOUNT, ConsentSource.IMPORT)

# Why a marketing email was not sent (Message.error of a suppressed message, and the
# ``reason`` of message_suppressed).
NO_CONSENT = "no_consent"
WITHDRAWN = "consent_withdrawn"
ORDERS_ONLY = "orders_only"
ERASED = "erased"


def topic_withdrawn(topic: str) -> str:
    return f"topic_withdrawn:{topic}"


# --- recording -------------------------------------------------------------------------


def record(
    contact: Contact,
    purpose: str,
    state: str,
    source: str,
    *,
    wording: str = "",
    message: Message | None = None,
    now: datetime | None = None,
) -> ConsentRecord | None:
    """Append a change of ``purpose`` to ``state`` to the contact's history and make it
    the current state. A call that changes nothing (same state) records nothing and
    returns None. Marketing granted clears ``unsubscribed_at`` (a fresh, explicit
    consent)."""
    now = now or clock.now()
    with transaction.atomic():
        current = (
            Consent.objects.select_for_update().filter(contact=contact, purpose=purpose).first()
        )
        if current is not None and current.state == state:
            return None
        entry = ConsentRecord.objects.create(
            contact=contact,
            purpose=purpose,
            state=state,
            source=source,
            wording=wording[:4000],
            message=message,
            recorded_at=now,
        )
        Consent.objects.update_or_create(
            contact=contact,
            purpose=purpose,
            defaults={"state": state, "source": source, "changed_at": now},
        )
        if purpose == Purpose.MARKETING:
            _sync_unsubscribed(contact, state, now)
    signals.emit(signals.consent_changed, Contact, contact=contact, record=entry)
    return entry


def _sync_unsubscribed(contact: Contact, state: str, now: datetime) -> None:
    # A withdrawal alone leaves unsubscribed_at to unsubscribe() (its signal says how
    # the contact left); refusals() reads the withdrawal either way.
    if state == ConsentState.GRANTED and contact.unsubscribed_at is not None:
        Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=None, updated_at=now)
        contact.unsubscribed_at = None


def withdraw_many(
    entries: Iterable[tuple[Contact, str, Message | None]], *, now: datetime | None = None
) -> list[ConsentRecord]:
    """Record marketing withdrawn for each (contact, source, message), in three
    queries whatever their number (a batch of ESP webhook events); the first entry of a
    contact counts, and contacts already withdrawn are left as they are."""
    now = now or clock.now()
    wanted: dict[int, tuple[Contact, str, Message | None]] = {}
    for contact, source, message in entries:
        wanted.setdefault(contact.pk, (contact, source, message))
    if not wanted:
        return []
    done = set(
        Consent.objects.filter(
            contact_id__in=wanted, purpose=Purpose.MARKETING, state=ConsentState.WITHDRAWN
        ).values_list("contact_id", flat=True)
    )
    todo = [entry for pk, entry in wanted.items() if pk not in done]
    if not todo:
        return []
    marketing, withdrawn = Purpose.MARKETING, ConsentState.WITHDRAWN
    records = [
        ConsentRecord(
            contact=c, purpose=marketing, state=withdrawn, source=src, message=m, recorded_at=now
        )
        for c, src, m in todo
    ]
    with transaction.atomic():
        ConsentRecord.objects.bulk_create(records)
        Consent.objects.bulk_create(
            [
                Consent(contact=c, purpose=marketing, state=withdrawn, source=src, changed_at=now)
                for c, src, _m in todo
            ],
            update_conflicts=True,
            unique_fields=["contact", "purpose"],
            update_fields=["state", "source", "changed_at"],
        )
    for entry in records:
        signals.emit(signals.consent_changed, Contact, contact=entry.contact, record=entry)
    return records


def set_frequency(
    contact: Contact,
    frequency: str,
    source: str,
    *,
    wording: str = "",
    message: Message | None = None,
    now: datetime | None = None,
) -> ConsentRecord | None:
    """Store the contact's chosen email frequency and record the change; None if it is
    the one they have."""
    if frequency not in EmailFrequency.values:
        raise ValueError(f"Unknown email frequency {frequency!r}")
    if contact.email_frequency == frequency:
        return None
    now = now or clock.now()
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(email_frequency=frequency, updated_at=now)
        contact.email_frequency = frequency
        entry = ConsentRecord.objects.create(
            contact=contact,
            purpose=Purpose.FREQUENCY,
            frequency=frequency,
            source=source,
            wording=wording[:4000],
            message=message,
            recorded_at=now,
        )
    signals.emit(signals.consent_changed, Contact, contact=contact, record=entry)
    return entry


def note_purchase(contact: Contact, *, now: datetime | None = None) -> ConsentRecord | None:
    """An order event: record a soft opt-in for a contact with no marketing consent
    state yet (never over a grant or a withdrawal)."""
    if Consent.objects.filter(contact=contact, purpose=Purpose.MARKETING).exists():
        return None
    if contact.unsubscribed_at is not None:
        return None  # unsubscribed before consent was recorded: that is a withdrawal
    return record(
        contact, Purpose.MARKETING, ConsentState.SOFT_OPT_IN, ConsentSource.CHECKOUT, now=now
    )


# --- consent passed by the shop ----------------------------------------------------------


@dataclass(frozen=True)
class ShopConsent:
    """``marketing_consent`` of an order snapshot or of track()'s ``contact``."""

    granted: bool
    source: str = ConsentSource.CHECKOUT
    wording: str = ""
    topics: dict[str, bool] = field(default_factory=dict)


def parse_shop_consent(value: Any) -> ShopConsent | None:
    """``True`` / ``False``, or ``{"granted": bool, "wording": str, "source": "checkout" |
    "account" | "import", "topics": {"offers": bool, ...}}``; None when absent.
    InvalidEventError names what is wrong (never the customer's data)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ShopConsent(granted=value)
    if not isinstance(value, dict) or not isinstance(value.get("granted"), bool):
        raise InvalidEventError(
            "marketing_consent must be true/false or a dict with a boolean 'granted'"
        )
    source = value.get("source", ConsentSource.CHECKOUT)
    if source not in CHECKOUT_SOURCES:
        raise InvalidEventError(
            f"marketing_consent.source must be one of {', '.join(CHECKOUT_SOURCES)}"
        )
    wording = value.get("wording", "")
    if not isinstance(wording, str):
        raise InvalidEventError("marketing_consent.wording must be a string")
    topics = value.get("topics") or {}
    if not isinstance(topics, dict) or any(
        k not in TOPICS or not isinstance(v, bool) for k, v in topics.items()
    ):
        raise InvalidEventError(
            f"marketing_consent.topics must map {', '.join(TOPICS)} to true/false"
        )
    return ShopConsent(
        granted=value["granted"], source=source, wording=wording.replace("\x00", ""), topics=topics
    )


def apply_shop_consent(contact: Contact, given: ShopConsent) -> list[ConsentRecord]:
    """Record what the shop's checkout or account page said: marketing granted or
    withdrawn, and each sub-category named."""
    state = ConsentState.GRANTED if given.granted else ConsentState.WITHDRAWN
    done = [record(contact, Purpose.MARKETING, state, given.source, wording=given.wording)]
    for topic, on in given.topics.items():
        topic_state = ConsentState.GRANTED if on else ConsentState.WITHDRAWN
        done.append(record(contact, topic, topic_state, given.source, wording=given.wording))
    return [r for r in done if r is not None]


# --- deciding before sending -----------------------------------------------------------


def legal_basis() -> str:
    return get_setting("MARKETING_LEGAL_BASIS")


def refusals(step: EmailStep, contacts: Iterable[Contact]) -> dict[int, str]:
    """Contact id -> why ``step``'s email may not go to it, for the contacts it may not
    go to. At most three queries for the whole batch: erased addresses (every email),
    then consent states and, for contacts without one, their orders (marketing)."""
    contacts = {c.pk: c for c in contacts}
    if not contacts:
        return {}
    refused: dict[int, str] = {}
    erased = erased_addresses(c.email for c in contacts.values())
    for pk, contact in contacts.items():
        if contact.email in erased:
            refused[pk] = ERASED
    if step.category != "marketing":
        return refused
    left = {
        pk: c
        for pk, c in contacts.items()
        if pk not in refused and not c.suppressed_at and not c.unsubscribed_at
    }
    for pk, contact in list(left.items()):
        if contact.email_frequency == EmailFrequency.ORDERS_ONLY:
            refused[pk] = ORDERS_ONLY
            del left[pk]
    if not left:
        return refused
    states: dict[int, dict[str, str]] = {}
    wanted = [Purpose.MARKETING, *([step.topic] if step.topic else [])]
    for contact_id, purpose, state in Consent.objects.filter(
        contact_id__in=left, purpose__in=wanted
    ).values_list("contact_id", "purpose", "state"):
        states.setdefault(contact_id, {})[purpose] = state
    explicit = legal_basis() == "consent"
    unknown = [pk for pk in left if Purpose.MARKETING not in states.get(pk, {})]
    buyers = set()
    if unknown and not explicit:
        # No state yet (a contact from before consent was recorded): a customer if they
        # have an order event.
        buyers = set(
            Event.objects.filter(contact_id__in=unknown, name__in=ORDER_EVENTS)
            .values_list("contact_id", flat=True)
            .distinct()
        )
    for pk in left:
        mine = states.get(pk, {})
        marketing = mine.get(Purpose.MARKETING)
        if marketing == ConsentState.WITHDRAWN:
            refused[pk] = WITHDRAWN
        elif step.topic and mine.get(step.topic) == ConsentState.WITHDRAWN:
            refused[pk] = topic_withdrawn(step.topic)
        elif explicit and marketing != ConsentState.GRANTED:
            refused[pk] = NO_CONSENT
        elif marketing is None and pk not in buyers:
            refused[pk] = NO_CONSENT
    return refused
