"""Matching an ESP event to our message and contact: who may a bounce suppress."""

from __future__ import annotations

import uuid

import pytest
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason

from postpurchase import clock
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import Contact
from postpurchase.testing.factories import ContactFactory
from postpurchase.tracking.record import record, record_many

from .conftest import sent_message

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one by one", "batched"], autouse=True)
def recording(request, monkeypatch):
    """Each test through both paths: Anymail's views (one event at a time) and a
    webhook post recorded as a batch (postpurchase.tracking.urls)."""
    if request.param == "batched":
        monkeypatch.setitem(globals(), "record", lambda event, esp: record_many([(event, esp)]))


def _bounce(**kw):
    base = dict(
        event_type=EventType.BOUNCED,
        reject_reason=RejectReason.BOUNCED,
        timestamp=clock.now(),
        event_id=str(uuid.uuid4()),
    )
    base.update(kw)
    return AnymailTrackingEvent(**base)


def test_ses_transient_soft_bounce_does_not_suppress():
    # What Anymail's amazon_ses webhook builds for a "Transient" (mailbox full) bounce.
    m = sent_message(esp_name="amazon_ses", esp_message_id="ses-1")
    ses_event = {
        "notificationType": "Bounce",
        "mail": {"messageId": "ses-1"},
        "bounce": {
            "bounceType": "Transient",
            "bounceSubType": "MailboxFull",
            "bouncedRecipients": [{"emailAddress": m.to_email}],
        },
    }
    record(
        _bounce(
            message_id="ses-1",
            recipient=m.to_email,
            esp_event=ses_event,
            description="Transient: MailboxFull",
        ),
        "Amazon SES",
    )
    assert Contact.objects.get(pk=m.contact_id).suppressed_at is None


def test_event_from_other_esp_matching_esp_message_id_does_not_touch_our_contact():
    m = sent_message(esp_name="postmark", esp_message_id="12345")
    record(
        _bounce(
            message_id="12345", recipient="someone-else@example.org", esp_event={"event": "bounce"}
        ),
        "mailjet",
    )
    assert Contact.objects.get(pk=m.contact_id).suppressed_at is None


def test_metadata_id_of_a_message_sent_by_another_esp_is_not_trusted():
    m = sent_message(esp_name="sendgrid", esp_message_id="sg-1")
    record(
        _bounce(
            message_id="pm-9",
            recipient="stranger@example.org",
            metadata={META_MESSAGE: str(m.pk)},
            esp_event={},
        ),
        "postmark",
    )
    assert Contact.objects.get(pk=m.contact_id).suppressed_at is None


def test_bounce_of_the_old_address_does_not_suppress_the_new_one():
    contact = ContactFactory(email="old@example.com")
    m = sent_message(contact=contact, esp_name="postmark", esp_message_id="pm-1")
    Contact.objects.filter(pk=contact.pk).update(email="new@example.com")
    record(
        _bounce(
            message_id="pm-1",
            recipient="old@example.com",
            metadata={META_MESSAGE: str(m.pk)},
            esp_event={},
        ),
        "postmark",
    )
    assert Contact.objects.get(pk=contact.pk).suppressed_at is None
