"""The public pages reached from emails (unsubscribe, preference centre, NPS survey), all
of them at once: they answer without a login, change state only on POST with a valid
signed token, refuse malformed and expired tokens with a page (never a 500), and honour
each token kind's maximum age. The first-party tracking URLs (open pixel, click
redirect) take GET and HEAD only and change nothing but the event they record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from postpurchase import nps, urls
from postpurchase.models import ConsentRecord, Contact, Event, Message, MessageEvent, NPSResponse
from postpurchase.public.tokens import (
    PREFERENCES_SALT,
    TRACK_SALT,
    UNSUBSCRIBE_SALT,
    make_preferences_token,
    make_track_token,
    make_unsubscribe_token,
)
from postpurchase.testing.factories import ContactFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"

#: What a state-changing POST sends to each public page.
POST_DATA = {
    "unsubscribe": {"List-Unsubscribe": "One-Click"},
    "nps": {"score": "9", "comment": "Great"},
    "preferences": {"topics": ["tips"], "frequency": "weekly"},
}


@pytest.fixture(autouse=True)
def _clear_attempt_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def message(frozen):
    contact = ContactFactory(email="anna@example.com", locale="ru")
    enrollment = EnrollmentFactory(contact=contact)
    return Message.objects.create(
        enrollment=enrollment,
        step=None,
        contact=contact,
        to_email=contact.email,
        category="marketing",
        language="ru",
        created_at=frozen.now,
    )


def public_urls(message: Message) -> dict[str, str]:
    """A valid link to every public page, by URL name."""
    return {
        "unsubscribe": reverse(
            "postpurchase:unsubscribe",
            args=[make_unsubscribe_token(message.contact_id, str(message.pk))],
        ),
        "nps": reverse("postpurchase:nps", args=[nps.make_nps_token(message.pk)]),
        "preferences": reverse(
            "postpurchase:preferences",
            args=[make_preferences_token(message.contact_id, str(message.pk))],
        ),
    }


def state() -> tuple:
    """Everything a public page may change."""
    return (
        list(Contact.objects.values_list("unsubscribed_at", "email_frequency")),
        ConsentRecord.objects.count(),
        list(NPSResponse.objects.values_list("score", "comment")),
        Event.objects.count(),
    )


#: The first-party tracking URLs (GET and HEAD only) and the status of a hit.
TRACKING = {"track_open": 200, "track_click": 302}


def tracking_urls(message: Message) -> dict[str, str]:
    return {
        "track_open": reverse("postpurchase:track_open", args=[make_track_token(message.pk)]),
        "track_click": reverse(
            "postpurchase:track_click",
            args=[make_track_token(message.pk, "https://shop.example.com/p/1")],
        ),
    }


def test_every_public_url_is_covered_here():
    assert {p.name for p in urls.urlpatterns} == set(POST_DATA) | set(TRACKING)


@pytest.mark.parametrize("name", sorted(TRACKING))
def test_tracking_urls_answer_without_a_login_and_change_only_their_event(
    message, login_required, client, name
):
    url = tracking_urls(message)[name]
    before = state()
    assert client.get(url).status_code == TRACKING[name]
    assert client.head(url).status_code == TRACKING[name]
    assert state() == before
    assert MessageEvent.objects.filter(message=message).count() == 2
    for method in ("post", "put", "patch", "delete", "options"):
        assert getattr(client, method)(url).status_code == 405
    assert MessageEvent.objects.filter(message=message).count() == 2


# --- LoginRequiredMiddleware (Django 5.1+) ----------------------------------------------


@pytest.fixture
def login_required(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]


def test_one_click_unsubscribe_works_behind_login_required_middleware(message, login_required):
    url = public_urls(message)["unsubscribe"]
    response = Client(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Contact.objects.get().unsubscribed_at is not None


@pytest.mark.parametrize("name", sorted(POST_DATA))
def test_every_public_page_answers_without_a_login(message, login_required, client, name):
    url = public_urls(message)[name]
    assert client.get(url).status_code == 200
    assert client.head(url).status_code == 200
    assert client.post(url, POST_DATA[name]).status_code == 200
    bad = url.replace(url.split("/")[3], "garbage")
    assert client.get(bad).status_code == 400
    assert client.post(bad, POST_DATA[name]).status_code == 400


# --- only a POST with a valid token changes anything ----------------------------------


@pytest.mark.parametrize("name", sorted(POST_DATA))
def test_get_and_head_only_show(message, client, name):
    url = public_urls(message)[name]
    before = state()
    for _ in range(2):  # a mail scanner, then the customer's preview
        assert client.get(url, {"score": "3"}).status_code == 200
        assert client.head(url).status_code == 200
    assert state() == before


@pytest.mark.parametrize("name", sorted(POST_DATA))
@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_are_not_allowed(message, client, name, method):
    url = public_urls(message)[name]
    before = state()
    assert getattr(client, method)(url, POST_DATA[name]).status_code == 405
    assert state() == before


@pytest.mark.parametrize("name", sorted(POST_DATA))
def test_a_valid_post_changes_state(message, client, name):
    before = state()
    assert client.post(public_urls(message)[name], POST_DATA[name]).status_code == 200
    assert state() != before


# --- correctly signed tokens with malformed ids: 400, never 500 -------------------------

UNSUBSCRIBE_PAYLOADS = [
    {"c": "abc"},
    {"c": "1"},
    {"c": -1},
    {"c": 0},
    {"c": True},
    {"c": 1.5},
    {"c": 10**30},
    {"c": None},
    {},
    {"m": "x"},
    [1],
    "1",
    None,
    {"c": "CONTACT", "m": "not-a-uuid"},
    {"c": "CONTACT", "m": -5},
    {"c": "CONTACT", "m": ["x"]},
]
NPS_PAYLOADS = [
    {"m": "not-a-uuid"},
    {"m": "-1"},
    {"m": -1},
    {"m": 5},
    {"m": None},
    {"m": ""},
    {"m": "0" * 10_000},
    {},
    {"c": 1},
    ["m"],
    "MESSAGE",
    None,
]


def _signed(payload, salt: str, contact_id: int) -> str:
    if payload == "MESSAGE":
        payload = "placeholder"
    if isinstance(payload, dict) and payload.get("c") == "CONTACT":
        payload = {**payload, "c": contact_id}
    return signing.dumps(payload, salt=salt)


@pytest.mark.parametrize("payload", UNSUBSCRIBE_PAYLOADS, ids=repr)
@pytest.mark.parametrize(
    ("name", "salt"), [("unsubscribe", UNSUBSCRIBE_SALT), ("preferences", PREFERENCES_SALT)]
)
def test_a_contact_token_with_a_malformed_id_is_a_400(message, client, payload, name, salt):
    token = _signed(payload, salt, message.contact_id)
    url = reverse(f"postpurchase:{name}", args=[token])
    before = state()
    assert client.get(url).status_code == 400
    assert client.post(url, POST_DATA[name]).status_code == 400
    assert state() == before


@pytest.mark.parametrize("payload", NPS_PAYLOADS, ids=lambda p: repr(p)[:30])
def test_nps_token_with_a_malformed_id_is_a_400(message, client, payload):
    token = _signed(payload, nps.NPS_SALT, message.contact_id)
    url = reverse("postpurchase:nps", args=[token])
    before = state()
    assert client.get(url).status_code == 400
    assert client.post(url, POST_DATA["nps"]).status_code == 400
    assert state() == before


@pytest.mark.parametrize("name", sorted(TRACKING))
@pytest.mark.parametrize("payload", [*NPS_PAYLOADS, {"m": "MESSAGE", "u": "ftp://x"}], ids=repr)
def test_tracking_token_with_a_malformed_payload_records_nothing(message, client, name, payload):
    if isinstance(payload, dict) and payload.get("m") == "MESSAGE":
        payload = {**payload, "m": str(message.pk)}
    token = _signed(payload, TRACK_SALT, message.contact_id)
    url = reverse(f"postpurchase:{name}", args=[token])
    # The pixel is an image all the same; a link leads nowhere.
    assert client.get(url).status_code == (200 if name == "track_open" else 404)
    assert not MessageEvent.objects.exists()


# --- token lifetimes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "days"), [("unsubscribe", 730), ("nps", 90), ("preferences", 730)]
)
def test_a_link_works_until_its_maximum_age(message, client, frozen, name, days):
    url = public_urls(message)[name]
    frozen.advance(timedelta(days=days) - timedelta(minutes=1))
    assert client.post(url, POST_DATA[name]).status_code == 200


@pytest.mark.parametrize(
    ("name", "days"), [("unsubscribe", 730), ("nps", 90), ("preferences", 730)]
)
def test_an_expired_link_shows_a_page_in_the_customers_language(
    message, client, frozen, name, days
):
    url = public_urls(message)[name]
    frozen.advance(timedelta(days=days, minutes=1))
    before = state()
    shown = client.get(url)
    assert shown.status_code == 410
    page = shown.content.decode()
    assert '<html lang="ru"' in page
    assert "Срок действия ссылки истёк" in page
    assert 'method="post"' not in page
    assert client.post(url, POST_DATA[name]).status_code == 410
    assert state() == before


def test_token_lifetimes_are_settings(message, client, frozen, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "TOKEN_MAX_AGE_DAYS": {"nps": 2}}
    links = public_urls(message)
    frozen.advance(timedelta(days=3))
    assert client.get(links["nps"]).status_code == 410
    # The kinds left out keep their defaults.
    assert client.get(links["unsubscribe"]).status_code == 200
