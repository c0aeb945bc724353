"""The Message's UUID as the ESP's own API idempotency key, where the ESP has one:
Resend (an HTTP header, through our Resend backend) and Brevo (a header in its JSON)."""

from __future__ import annotations

import json

import pytest
import responses

from postpurchase import engine
from postpurchase.models import Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow():
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="transactional")
    return flow


def test_resend_gets_the_message_id_as_its_idempotency_key_header(flow, settings, frozen):
    settings.EMAIL_BACKEND = "postpurchase.delivery.backends.ResendEmailBackend"
    settings.ANYMAIL = {"RESEND_API_KEY": "re_test"}
    EnrollmentFactory(flow=flow)
    with responses.RequestsMock() as mock:
        mock.post("https://api.resend.com/emails", json={"id": "resend-1"})
        engine.run_due()
        request = mock.calls[0].request
    message = Message.objects.get()
    assert request.headers["Idempotency-Key"] == str(message.pk)
    assert message.status == "sent" and message.esp_message_id == "resend-1"
    assert message.esp_name == "resend"


def test_brevo_gets_the_message_id_as_its_idempotency_key(flow, settings, frozen):
    settings.EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    settings.ANYMAIL = {"BREVO_API_KEY": "xkeysib-test"}
    EnrollmentFactory(flow=flow)
    with responses.RequestsMock() as mock:
        mock.post("https://api.brevo.com/v3/smtp/email", json={"messageId": "<b@1>"}, status=201)
        engine.run_due()
        payload = json.loads(mock.calls[0].request.body)
    message = Message.objects.get()
    assert payload["headers"]["idempotencyKey"] == str(message.pk)
    assert message.status == "sent" and message.esp_name == "brevo"


def test_other_esps_get_no_brevo_header(flow, postmark, frozen):
    EnrollmentFactory(flow=flow)
    engine.run_due()
    assert "idempotencyKey" not in json.dumps(postmark.received[0])
