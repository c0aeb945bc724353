from __future__ import annotations

import pytest
from django.test import TestCase

from postpurchase import clock
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import Message
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
)

from .payloads import BASIC_AUTH, ESPS, MAILGUN_SIGNING_KEY, machine_engagement


@pytest.fixture(autouse=True, params=["per_event", "batched"])
def webhook_urls(request, settings):
    """Every test here runs against both ways of serving Anymail's webhooks: plain
    ``anymail.urls`` (events recorded one by one) and ``postpurchase.tracking.urls``
    (a post's events recorded together); the outcome must be the same."""
    settings.ROOT_URLCONF = f"tests.tracking.urls_{request.param}"
    return request.param


@pytest.fixture(autouse=True)
def anymail_webhook_auth(settings):
    """The webhook credentials as a shop configures them: a shared basic-auth secret
    (all ESPs) and Mailgun's signing key."""
    settings.ANYMAIL = {
        **getattr(settings, "ANYMAIL", {}),
        "WEBHOOK_SECRET": BASIC_AUTH,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    }


def sent_message(flow=None, contact=None, **fields) -> Message:
    """A marketing email of ``flow`` as the delivery step leaves it after sending."""
    flow = flow or FlowFactory()
    step = EmailStepFactory(flow=flow, position=100)
    enrollment = EnrollmentFactory(flow=flow, contact=contact or ContactFactory())
    return Message.objects.create(
        enrollment=enrollment,
        step=step,
        contact=enrollment.contact,
        to_email=enrollment.contact.email,
        category="marketing",
        status=Message.Status.SENT,
        sent_at=clock.now(),
        created_at=clock.now(),
        **fields,
    )


class Poster:
    """Posts an ESP's webhook to Anymail's view, running the after-commit signals."""

    def __init__(self, client):
        self.client = client

    def __call__(self, esp, kind, message=None, recipient=None, metadata=None, **kwargs):
        """Post ``kind`` ("opened", ...; "machine": payloads.machine_engagement)."""
        if metadata is None:
            metadata = {META_MESSAGE: str(message.pk)} if message is not None else {}
        recipient = recipient or (message.to_email if message else "stranger@example.com")
        if kind == "machine":
            url, body, extra = machine_engagement(esp, recipient, metadata, **kwargs)
        else:
            url, body, extra = ESPS[esp](kind, recipient, metadata, **kwargs)
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, data=body, content_type="application/json", **extra)
        assert response.status_code == 200, response.content
        return response


@pytest.fixture
def post(client, db):
    return Poster(client)
