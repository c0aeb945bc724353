"""RFC 8058 one-click unsubscribe: POST unsubscribes, GET never changes anything."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from postpurchase import engine, signals
from postpurchase.models import Contact, Message
from postpurchase.public.tokens import make_unsubscribe_token
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing_sent(frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="marketing")
    enrollment = EnrollmentFactory(flow=flow, contact__email="anna@example.com")
    engine.run_due()
    return enrollment, mail.outbox[0]


def header_url(email):
    return re.fullmatch(r"<(.+)>", email.extra_headers["List-Unsubscribe"]).group(1)


def test_marketing_mail_carries_one_click_headers_and_footer_link(marketing_sent):
    _, email = marketing_sent
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header_url(email)
    assert url.startswith("http://127.0.0.1:8000/postpurchase/unsubscribe/")
    assert url in email.alternatives[0][0]


def test_get_shows_a_page_and_changes_nothing(marketing_sent, client):
    enrollment, email = marketing_sent
    response = client.get(header_url(email))
    assert response.status_code == 200
    assert b"a***@example.com" in response.content
    assert b'method="post"' in response.content.lower()
    enrollment.contact.refresh_from_db()
    assert enrollment.contact.unsubscribed_at is None


def test_one_click_post_unsubscribes(marketing_sent, client, django_capture_on_commit_callbacks):
    enrollment, email = marketing_sent
    received = []
    signals.unsubscribed.connect(
        lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="t"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(header_url(email), {"List-Unsubscribe": "One-Click"})
        # A second POST is harmless and sends no second signal.
        with django_capture_on_commit_callbacks(execute=True):
            client.post(header_url(email), {"List-Unsubscribe": "One-Click"})
    finally:
        signals.unsubscribed.disconnect(dispatch_uid="t")
    assert response.status_code == 200
    contact = Contact.objects.get(email="anna@example.com")
    assert contact.unsubscribed_at is not None
    assert received[0]["source"] == "one_click"
    assert received[0]["message"] == Message.objects.get()
    assert len(received) == 1


def test_post_without_csrf_token_is_accepted(marketing_sent):
    """Mail providers POST without cookies or CSRF tokens."""
    from django.test import Client

    _, email = marketing_sent
    response = Client(enforce_csrf_checks=True).post(
        header_url(email), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert Contact.objects.get().unsubscribed_at is not None


@pytest.mark.parametrize("token", ["garbage", make_unsubscribe_token(1)[:-2] + "xx"])
def test_tampered_token_is_refused_and_changes_nothing(marketing_sent, client, token):
    response = client.post(f"/postpurchase/unsubscribe/{token}/")
    assert response.status_code == 400
    assert Contact.objects.get().unsubscribed_at is None


def test_token_signed_with_other_salt_is_refused(marketing_sent, client):
    from django.core import signing

    contact = Contact.objects.get()
    token = signing.dumps({"c": contact.pk}, salt="something-else")
    assert client.post(f"/postpurchase/unsubscribe/{token}/").status_code == 400
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_put_is_not_allowed(marketing_sent, client):
    _, email = marketing_sent
    assert client.put(header_url(email)).status_code == 405


def test_unsubscribed_contact_gets_transactional_but_not_marketing(frozen, client):
    flow = FlowFactory()
    EmailStepFactory(flow=flow, category="transactional", position=1)
    EmailStepFactory(flow=flow, category="marketing", position=2)
    enrollment = EnrollmentFactory(flow=flow)
    client.post(f"/postpurchase/unsubscribe/{make_unsubscribe_token(enrollment.contact.pk)}/")
    engine.run_due()
    statuses = dict(Message.objects.values_list("category", "status"))
    assert statuses == {"transactional": "sent", "marketing": "suppressed"}
    assert len(mail.outbox) == 1
