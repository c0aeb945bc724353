"""Unsubscribing a contact from marketing email (transactional mail still goes out).
Each unsubscribe is also a withdrawal of marketing consent in the consent history."""

from __future__ import annotations

from postpurchase import clock, consent, signals
from postpurchase.models import ConsentSource, ConsentState, Contact, Message, Purpose

#: unsubscribe()'s ``source`` -> where the consent history says it came from.
SOURCES = {
    "link": ConsentSource.UNSUBSCRIBE_LINK,
    "one_click": ConsentSource.ONE_CLICK,
    "esp": ConsentSource.ESP_UNSUBSCRIBE,
    "complaint": ConsentSource.ESP_COMPLAINT,
    "preferences": ConsentSource.PREFERENCE_CENTRE,
    "admin": ConsentSource.ADMIN,
}


def unsubscribe(
    contact: Contact, *, message: Message | None = None, source: str = "link", wording: str = ""
) -> bool:
    """Mark ``contact`` unsubscribed; True if this changed anything. Idempotent. The
    withdrawal is recorded in the consent history (once, while it stands)."""
    now = clock.now()
    changed = Contact.objects.filter(pk=contact.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now, updated_at=now
    )
    contact.refresh_from_db(fields=["unsubscribed_at"])
    withdraw(contact, source, message=message, wording=wording)
    if changed:
        signals.emit(signals.unsubscribed, Contact, contact=contact, message=message, source=source)
    return bool(changed)


def withdraw(
    contact: Contact, source: str, *, message: Message | None = None, wording: str = ""
) -> None:
    """Record marketing consent withdrawn (``source`` as unsubscribe() takes it)."""
    _marketing(contact, ConsentState.WITHDRAWN, source, message=message, wording=wording)


def withdraw_many(entries: list[tuple[Contact, str, Message | None]]) -> None:
    """:func:`withdraw` for many (contact, source, message) at once."""
    consent.withdraw_many(
        (contact, SOURCES.get(source, ConsentSource.ADMIN), message)
        for contact, source, message in entries
    )


def resubscribe(contact: Contact, *, source: str = "admin", wording: str = "") -> None:
    """Clear the unsubscribe: recorded as marketing consent granted by ``source``."""
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=None, updated_at=clock.now())
    contact.unsubscribed_at = None
    _marketing(contact, ConsentState.GRANTED, source, wording=wording)


def _marketing(
    contact: Contact, state: str, source: str, *, message: Message | None = None, wording: str = ""
) -> None:
    consent.record(
        contact,
        Purpose.MARKETING,
        state,
        SOURCES.get(source, ConsentSource.ADMIN),
        message=message,
        wording=wording,
    )
