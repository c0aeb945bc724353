"""The preference centre: what a customer chose (marketing topics, how often) and
saving a new choice into the consent history. The page is ``views.preferences_view``."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from postpurchase import clock, consent
from postpurchase.models import (
    Consent,
    ConsentSource,
    ConsentState,
    Contact,
    EmailFrequency,
    MarketingTopic,
    Message,
    Purpose,
)
from postpurchase.public.unsubscribe import unsubscribe

SOURCE = ConsentSource.PREFERENCE_CENTRE


@dataclass(frozen=True)
class Choice:
    topics: frozenset[str]
    frequency: str
    subscribed: bool


def intro() -> str:
    """The sentence above the choices (recorded as the wording of each change)."""
    return _("Choose which emails you would like to receive from us and how often.")


def current(contact: Contact) -> Choice:
    """What the page shows: the topics not withdrawn, the frequency, subscribed or not."""
    states = dict(Consent.objects.filter(contact=contact).values_list("purpose", "state"))
    subscribed = (
        contact.unsubscribed_at is None and states.get(Purpose.MARKETING) != ConsentState.WITHDRAWN
    )
    topics = frozenset(
        t for t in consent.TOPICS if subscribed and states.get(t) != ConsentState.WITHDRAWN
    )
    return Choice(topics=topics, frequency=contact.email_frequency, subscribed=subscribed)


def parse(topics: list[str], frequency: str | None) -> Choice | None:
    """The choice a POST carries; None if it names an unknown frequency."""
    if frequency not in EmailFrequency.values:
        return None
    chosen = frozenset(t for t in topics if t in consent.TOPICS)
    return Choice(topics=chosen, frequency=frequency, subscribed=bool(chosen))


def save(contact: Contact, choice: Choice, *, message: Message | None = None) -> bool:
    """Record the customer's choice; True if anything changed. No topic left ticked
    is an unsubscribe from all marketing; ticking topics is an explicit consent to
    them (and to marketing), with the page's wording."""
    now = clock.now()
    text = intro()
    changed = False
    if consent.set_frequency(
        contact,
        choice.frequency,
        SOURCE,
        wording=f"{text} {EmailFrequency(choice.frequency).label}",
        message=message,
        now=now,
    ):
        changed = True
    if not choice.subscribed:
        return unsubscribe_all(contact, message=message) or changed
    granted = consent.record(
        contact,
        Purpose.MARKETING,
        ConsentState.GRANTED,
        SOURCE,
        wording=text,
        message=message,
        now=now,
    )
    changed = changed or granted is not None
    for topic in consent.TOPICS:
        state = ConsentState.GRANTED if topic in choice.topics else ConsentState.WITHDRAWN
        entry = consent.record(
            contact,
            topic,
            state,
            SOURCE,
            wording=f"{text} {MarketingTopic(topic).label}",
            message=message,
            now=now,
        )
        changed = changed or entry is not None
    return changed


def unsubscribe_all(contact: Contact, *, message: Message | None = None) -> bool:
    """The page's "unsubscribe from all marketing" (order emails still go out)."""
    return unsubscribe(
        contact, message=message, source="preferences", wording=_("Unsubscribe from all")
    )
