"""Everything the app holds about one contact, as JSON (a data subject's access or
portability request, GDPR art. 15 and 20; Russia's 152-FZ art. 14)."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet

from postpurchase import clock
from postpurchase.models import (
    Consent,
    ConsentRecord,
    Contact,
    Conversion,
    Coupon,
    CouponRedemption,
    Enrollment,
    Event,
    Message,
    MessageEvent,
    NPSResponse,
    PurchasedProduct,
)

#: Bump when the layout of the export changes.
FORMAT_VERSION = 1


def _rows(queryset: QuerySet, leave_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    fields = [f.attname for f in queryset.model._meta.concrete_fields if f.name not in leave_out]
    return list(queryset.order_by("pk").values(*fields))


def message_events(contact: Contact) -> QuerySet:
    """The ESP's events about the contact's emails, and those that name no email of
    ours but were addressed to them."""
    return MessageEvent.objects.filter(
        Q(message__contact=contact) | Q(message__isnull=True, recipient__iexact=contact.email)
    )


def export_contact(contact: Contact) -> dict[str, Any]:
    """A JSON-safe dict of the contact and everything linked to it."""
    data = {
        "format": FORMAT_VERSION,
        "exported_at": clock.now(),
        "contact": Contact.objects.filter(pk=contact.pk).values().get(),
        "consent": _rows(Consent.objects.filter(contact=contact)),
        "consent_history": _rows(ConsentRecord.objects.filter(contact=contact)),
        "events": _rows(Event.objects.filter(contact=contact)),
        # The lease is the worker's, not the customer's.
        "enrollments": _rows(
            Enrollment.objects.filter(contact=contact), ("lease_token", "lease_expires_at")
        ),
        "messages": _rows(Message.objects.filter(contact=contact)),
        "message_events": _rows(message_events(contact)),
        "coupons": _rows(Coupon.objects.filter(contact=contact)),
        "coupon_redemptions": _rows(CouponRedemption.objects.filter(coupon__contact=contact)),
        "nps_responses": _rows(NPSResponse.objects.filter(contact=contact)),
        # What the shop's orders taught us about them: products bought (replenishment)
        # and the orders their emails were credited with.
        "purchased_products": _rows(PurchasedProduct.objects.filter(contact=contact)),
        "conversions": _rows(Conversion.objects.filter(contact=contact)),
    }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def export_json(contact: Contact) -> str:
    return json.dumps(export_contact(contact), indent=2, ensure_ascii=False)
