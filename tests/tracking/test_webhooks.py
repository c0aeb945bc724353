"""Real ESP webhook payloads through Anymail's views become MessageEvents."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase

from postpurchase import signals
from postpurchase.models import Contact, Message, MessageEvent

from .conftest import sent_message
from .payloads import (
    ESPS,
    KINDS,
    URL,
    auth_headers,
    mailgun,
    second_event_id,
    sendgrid,
    sendgrid_event,
)

# Anymail warns that it no longer officially supports SendGrid; its webhook still works.
pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

CASES = [(esp, kind) for esp in ESPS for kind in KINDS[esp]]


@pytest.mark.parametrize("esp,kind", CASES)
def test_each_esp_event_is_recorded_for_its_message(post, esp, kind):
    message = sent_message()
    post(esp, kind, message)
    event = MessageEvent.objects.get()
    assert (event.esp, event.kind, event.message_id) == (esp, kind, message.pk)
    assert event.recipient == message.to_email
    assert event.event_id
    assert event.occurred_at is not None
    if kind == "clicked":
        assert event.url == URL
    if kind == "bounced":
        assert event.mta_response or event.description


@pytest.mark.parametrize("esp,kind", CASES)
def test_a_replayed_webhook_changes_nothing(post, esp, kind):
    message = sent_message()
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs)

    for signal in (signals.message_opened, signals.message_clicked, signals.message_bounced):
        signal.connect(receiver)
    try:
        post(esp, kind, message)
        before = (
            list(MessageEvent.objects.values()),
            Message.objects.values("opened_at", "clicked_at").get(pk=message.pk),
            Contact.objects.values("suppressed_at", "unsubscribed_at", "updated_at").get(),
        )
        post(esp, kind, message)
        after = (
            list(MessageEvent.objects.values()),
            Message.objects.values("opened_at", "clicked_at").get(pk=message.pk),
            Contact.objects.values("suppressed_at", "unsubscribed_at", "updated_at").get(),
        )
    finally:
        for signal in (signals.message_opened, signals.message_clicked, signals.message_bounced):
            signal.disconnect(receiver)
    assert after == before
    assert len(heard) == (1 if kind in ("opened", "clicked", "bounced") else 0)


@pytest.mark.parametrize("esp", ESPS)
def test_first_open_and_click_fill_the_message(post, esp):
    message = sent_message()
    post(esp, "opened", message)
    message.refresh_from_db()
    assert message.opened_at is not None and message.clicked_at is None
    opened = message.opened_at
    post(esp, "clicked", message, event_id=second_event_id(esp))
    message.refresh_from_db()
    assert message.clicked_at is not None
    assert message.opened_at == opened  # the first open stays


def test_a_click_without_a_tracked_open_counts_as_an_open(post):
    message = sent_message()
    post("mailgun", "clicked", message)
    message.refresh_from_db()
    assert message.opened_at == message.clicked_at is not None


def test_events_carry_the_user_agent_and_ip(post):
    message = sent_message()
    post("sendgrid", "opened", message)
    event = MessageEvent.objects.get()
    assert event.user_agent.startswith("Mozilla/5.0")
    assert event.ip == "203.0.113.7"


@pytest.mark.parametrize("esp", ["sendgrid", "mailgun", "postmark", "brevo", "resend"])
def test_matched_by_the_esp_message_id_without_metadata(post, esp):
    message = sent_message(esp_message_id=f"<esp-id-{esp}@example.com>")
    post(esp, "delivered", message, metadata={}, message_id=f"<esp-id-{esp}@example.com>")
    assert MessageEvent.objects.get().message_id == message.pk


def test_events_matching_no_message_are_kept(post):
    post("postmark", "delivered", recipient="someone@example.com", metadata={})
    post("sendgrid", "opened", metadata={"postpurchase_message": "not-a-uuid"})
    assert MessageEvent.objects.filter(message__isnull=True).count() == 2


def test_a_batch_records_every_event_once(client, db):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    batch = [
        sendgrid_event(kind, message.to_email, meta, f"sg-{i}")
        for i, kind in enumerate(["delivered", "opened", "clicked", "opened"])
    ]
    for _ in range(2):  # SendGrid retries a whole batch
        response = client.post(
            "/anymail/sendgrid/tracking/",
            data=json.dumps(batch),
            content_type="application/json",
            **auth_headers(),
        )
        assert response.status_code == 200
    assert sorted(MessageEvent.objects.values_list("event_id", flat=True)) == [
        "sg-0",
        "sg-1",
        "sg-2",
        "sg-3",
    ]


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("esp", ["sendgrid", "postmark", "brevo", "resend"])
def test_a_post_without_the_webhook_secret_is_refused(client, db, esp):
    message = sent_message()
    url, body, extra = ESPS[esp]("opened", message.to_email, {})
    extra = {**extra, **auth_headers("anymail-user:wrong")}
    response = client.post(url, data=body, content_type="application/json", **extra)
    assert response.status_code == 400
    assert not MessageEvent.objects.exists()


def test_a_mailgun_post_with_a_bad_signature_is_refused(client, db):
    url, body, extra = mailgun("opened", "anna@example.com", {})
    payload = json.loads(body)
    payload["signature"]["signature"] = "0" * 64
    response = client.post(url, data=json.dumps(payload), content_type="application/json", **extra)
    assert response.status_code == 400
    assert not MessageEvent.objects.exists()


def test_a_sendgrid_post_needs_the_secret_too(client, db, settings):
    url, body, _ = sendgrid("opened", "anna@example.com", {})
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert not MessageEvent.objects.exists()
