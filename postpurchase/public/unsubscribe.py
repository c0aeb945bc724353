"""Unsubscribing a contact from marketing email (transactional mail still goes out)."""

from __future__ import annotations

from postpurchase import clock, signals
from postpurchase.models import Contact, Message  # noqa: F401  (Message: type of the argument)


def unsubscribe(contact: Contact, *, message: Message | None = None, source: str = "link") -> bool:
    """Mark ``contact`` unsubscribed; True if this changed anything. Idempotent."""
    now = clock.now()
    changed = Contact.objects.filter(pk=contact.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=now, updated_at=now
    )
    contact.refresh_from_db(fields=["unsubscribed_at"])
    if changed:
        signals.emit(signals.unsubscribed, Contact, contact=contact, message=message, source=source)
    return bool(changed)


def resubscribe(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=None, updated_at=clock.now())
    contact.unsubscribed_at = None
