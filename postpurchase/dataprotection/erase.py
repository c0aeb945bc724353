"""Erasing a contact (GDPR art. 17; 152-FZ art. 21): everything about them is deleted,
and their address goes on the erased list as a keyed hash, so a later order or import
does not mail them by mistake. What is deleted and what is kept: docs/consent.md."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from postpurchase import signals
from postpurchase.dataprotection import suppression
from postpurchase.dataprotection.export import message_events
from postpurchase.models import Contact, Enrollment, Message

logger = logging.getLogger("postpurchase.dataprotection")


def erase_contact(contact: Contact) -> dict[str, Any]:
    """Delete the contact with its events, enrollments, messages and their ESP events,
    coupons and redemptions, NPS answers and consent history (the foreign keys cascade),
    plus ESP events addressed to them that name no email of ours; put the address on
    the erased list. Returns ``{"digest": ..., "deleted": {model label: rows}}``."""
    contact_id = contact.pk
    with transaction.atomic():
        digest = suppression.add(contact.email)
        _forget_admin_names(contact)
        stray, _ = message_events(contact).filter(message__isnull=True).delete()
        _total, deleted = Contact.objects.filter(pk=contact_id).delete()
    counts = dict(deleted)
    if stray:
        counts["postpurchase.MessageEvent"] = counts.get("postpurchase.MessageEvent", 0) + stray
    logger.info("postpurchase: contact %s erased", contact_id)
    signals.emit(
        signals.contact_erased, Contact, contact_id=contact_id, digest=digest, counts=counts
    )
    return {"digest": digest, "deleted": counts}


def _forget_admin_names(contact: Contact) -> None:
    """The admin's history names each object by its str() (a contact's, a message's and
    an enrollment's hold the address): keep the entries (who did what, when), with the
    name blanked (the entry keeps the object's id)."""
    if not apps.is_installed("django.contrib.admin"):
        return
    log_entry = apps.get_model("admin", "LogEntry")
    named = {
        Contact: [contact.pk],
        Message: Message.objects.filter(contact=contact).values_list("pk", flat=True),
        Enrollment: Enrollment.objects.filter(contact=contact).values_list("pk", flat=True),
    }
    for model, ids in named.items():
        log_entry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr="(erased)")
