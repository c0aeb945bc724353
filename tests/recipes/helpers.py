"""Starting recipes' flows the way a shop does, and reading back what they sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core import mail

from postpurchase import recipes, track
from postpurchase.models import Flow, Message
from postpurchase.testing.factories import order_snapshot

#: A contact per language; each test sends the same event for all three.
PEOPLE = {
    "en": ("emily@example.com", "Emily"),
    "ru": ("anna@example.com", "Анна"),
    "uk": ("olena@example.com", "Олена"),
}


def live(slug: str) -> Flow:
    return recipes.install(slug, live=True)


def order_for(locale: str, number: str = "1001", **extra: Any) -> dict[str, Any]:
    email, first_name = PEOPLE[locale]
    items = extra.pop("items", None)  # the factory's "items" is a count
    order = order_snapshot(
        email=email,
        number=number,
        locale=locale,
        first_name=first_name,
        ref=f"shop.order:{number}",
        **extra,
    )
    if items is not None:
        order["items"] = items
    return order


def order_event(name: str, locale: str, number: str = "1001", data=None, **extra: Any):
    """An order event (order_paid, order_delivered, ...) as the inbound signal records it."""
    order = order_for(locale, number, **extra)
    return track(
        name,
        email=order["email"],
        data={**(data or {}), "order": order},
        order_ref=order["ref"],
        contact={"first_name": order["first_name"], "locale": locale},
    )


def customer_event(name: str, locale: str, data=None, occurred_at: datetime | None = None):
    """A behaviour event (product_viewed, cart_updated, ...) of a known customer, who
    agreed to marketing email (at sign-up, say)."""
    email, first_name = PEOPLE[locale]
    return track(
        name,
        email=email,
        data=data or {},
        contact={"first_name": first_name, "locale": locale, "marketing_consent": True},
        occurred_at=occurred_at,
    )


def sent(start: datetime, **filters: Any) -> list[tuple[timedelta, str, str]]:
    """(offset from start, language, subject) of every sent message, oldest first."""
    return [
        (m.sent_at - start, m.language, m.subject)
        for m in Message.objects.filter(status="sent", **filters).order_by("sent_at", "language")
    ]


def subjects_by_language(**filters: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in Message.objects.filter(status="sent", **filters).order_by("sent_at"):
        found.setdefault(m.language, []).append(m.subject)
    return found


def html_to(email: str) -> list[str]:
    """The HTML bodies of the emails sent to ``email``, oldest first."""
    return [m.alternatives[0][0] for m in mail.outbox if any(email in to for to in m.to)]


def text_to(email: str) -> list[str]:
    return [m.body for m in mail.outbox if any(email in to for to in m.to)]
