"""Erased addresses, kept as a keyed hash (HMAC-SHA256 of the normalized address with
SECRET_KEY): the app can tell an erased address when it comes back without storing it.
Rotating SECRET_KEY makes the list unreadable (the docs say so)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError

from postpurchase import clock
from postpurchase.models import Contact, ErasedAddress, normalize_email

#: What Contact.suppression_reason says for a contact blocked by the erased list.
REASON = "erased"


def address_digest(email: str) -> str:
    """The hex HMAC-SHA256 of the normalized address (the raw lower-cased text when it
    is not a valid address, so any string hashes)."""
    try:
        value = normalize_email(email)
    except ValidationError:
        value = str(email).strip().lower()
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, b"postpurchase.erased:" + value.encode(), hashlib.sha256).hexdigest()


def erased_addresses(emails: Iterable[str]) -> set[str]:
    """Those of ``emails`` that are on the erased list (one query)."""
    by_digest = {address_digest(e): e for e in emails}
    if not by_digest:
        return set()
    found = ErasedAddress.objects.filter(digest__in=by_digest).values_list("digest", flat=True)
    return {by_digest[d] for d in found}


def is_erased(email: str) -> bool:
    return ErasedAddress.objects.filter(digest=address_digest(email)).exists()


def add(email: str) -> str:
    """Put ``email`` on the erased list; its digest. Idempotent."""
    digest = address_digest(email)
    ErasedAddress.objects.get_or_create(digest=digest, defaults={"erased_at": clock.now()})
    return digest


def block_if_erased(contact: Contact) -> bool:
    """Suppress a contact just created for an address on the erased list (no email at
    all until staff lift it); True if it was."""
    if not is_erased(contact.email):
        return False
    now = clock.now()
    Contact.objects.filter(pk=contact.pk).update(
        suppressed_at=now, suppression_reason=REASON, updated_at=now
    )
    contact.suppressed_at, contact.suppression_reason = now, REASON
    return True


def lift_address(email: str) -> bool:
    """Take ``email`` off the erased list; True if it was on it."""
    deleted, _ = ErasedAddress.objects.filter(digest=address_digest(email)).delete()
    return bool(deleted)


def lift(contact: Contact) -> bool:
    """Staff lift the block: the address leaves the erased list and, if the erased list
    was why, the contact is no longer suppressed. True if anything changed."""
    deleted = lift_address(contact.email)
    cleared = 0
    if contact.suppression_reason == REASON:
        cleared = Contact.objects.filter(pk=contact.pk, suppression_reason=REASON).update(
            suppressed_at=None, suppression_reason="", updated_at=clock.now()
        )
        contact.suppressed_at, contact.suppression_reason = None, ""
    return bool(deleted or cleared)
