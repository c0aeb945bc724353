"""An unsubscribe or spam complaint the ESP reports is a withdrawal of marketing
consent in the contact's history, recorded once, by both ways of recording events."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase

from postpurchase.models import Consent, ConsentRecord

from .conftest import sent_message
from .payloads import auth_headers, sendgrid_event

pytestmark = pytest.mark.django_db

SENDGRID = "/anymail/sendgrid/tracking/"


def post(client, events):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            SENDGRID, data=json.dumps(events), content_type="application/json", **auth_headers()
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("kind", "source"), [("unsubscribed", "esp_unsubscribe"), ("complained", "esp_complaint")]
)
def test_the_esp_report_is_in_the_consent_history(client, kind, source):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    post(client, [sendgrid_event(kind, message.to_email, meta, "sg-1")])
    post(client, [sendgrid_event(kind, message.to_email, meta, "sg-2")])  # again: no record
    withdrawals = ConsentRecord.objects.filter(state="withdrawn")
    [entry] = withdrawals
    assert (entry.purpose, entry.source, entry.message_id) == ("marketing", source, message.pk)
    assert Consent.objects.get(contact=message.contact, purpose="marketing").state == "withdrawn"


def test_a_complaint_and_an_unsubscribe_in_one_post_withdraw_once(client):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    post(
        client,
        [
            sendgrid_event("complained", message.to_email, meta, "sg-1"),
            sendgrid_event("unsubscribed", message.to_email, meta, "sg-2"),
        ],
    )
    [entry] = ConsentRecord.objects.filter(state="withdrawn")
    assert entry.source == "esp_complaint"
