"""The preference centre: a signed link in every marketing email; GET shows, POST
changes; each choice is honoured at the next claim and lands in the consent history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.signing import TimestampSigner

from postpurchase import consent, recipes
from postpurchase.models import ConsentRecord, Contact
from postpurchase.public.tokens import (
    make_preferences_token,
    make_unsubscribe_token,
    read_preferences_token,
)
from postpurchase.testing.factories import ContactFactory, EmailStepFactory, FlowFactory
from tests.core.helpers import run_clock

from .helpers import order, outcome, preferences_link, two_flows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

SENT = [("sent", "")]


@pytest.fixture
def first_order(frozen):
    """An order that sent one marketing email (offers); returns its preferences path."""
    two_flows()
    order()
    return preferences_link()


def post(client, link, topics=("offers", "reviews", "tips"), frequency="all", **extra):
    return client.post(link, {"topics": list(topics), "frequency": frequency, **extra})


def history() -> list[tuple[str, str, str, str]]:
    return list(
        ConsentRecord.objects.order_by("pk").values_list("purpose", "state", "frequency", "source")
    )


def test_every_marketing_email_has_the_link_and_transactional_ones_do_not(frozen):
    service, offer = two_flows()
    order()
    [service_mail] = [
        m for m in mail.outbox if m.subject.startswith(f"[en] {service.template.slug}")
    ]
    [offer_mail] = [m for m in mail.outbox if m.subject.startswith(f"[en] {offer.template.slug}")]
    assert "/postpurchase/preferences/" in offer_mail.alternatives[0][0]
    assert "/postpurchase/preferences/" not in service_mail.alternatives[0][0]


def test_the_base_layout_shows_the_link_next_to_unsubscribe(frozen):
    recipes.install("post-purchase-series", live=True)
    order()
    run_clock(frozen, days=60)
    marketing = [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers]
    assert marketing
    for email in marketing:
        body = email.alternatives[0][0]
        assert "/postpurchase/preferences/" in body and "Email preferences" in body


def test_get_shows_the_choices_and_changes_nothing(first_order, client):
    before = history()
    response = client.get(first_order)
    assert response.status_code == 200
    content = response.content.decode()
    assert "a***@example.com" in content
    for value in ("offers", "reviews", "tips", "weekly", "monthly", "orders_only"):
        assert f'value="{value}"' in content
    assert history() == before
    assert Contact.objects.get().email_frequency == "all"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJjIjoxfQ:1xYRMh:QpcCP6KbF4TknUVOoUndcheC5SDR9gLKu1QzhXFgCxx",
    ],
)
def test_a_tampered_token_is_refused_and_changes_nothing(first_order, client, token):
    before = history()
    response = post(client, f"/postpurchase/preferences/{token}/", topics=(), frequency="monthly")
    assert response.status_code == 400
    assert history() == before


def test_a_token_of_another_kind_is_refused(first_order, client):
    contact = Contact.objects.get()
    for token in (
        make_unsubscribe_token(contact.pk),
        TimestampSigner(salt="other").sign_object({"c": contact.pk}),
    ):
        response = post(client, f"/postpurchase/preferences/{token}/", topics=())
        assert response.status_code == 400
    assert Contact.objects.get().unsubscribed_at is None


def test_an_expired_link_says_so(first_order, client, frozen):
    frozen.advance(timedelta(days=731))
    response = client.get(first_order)
    assert response.status_code == 410
    assert b"expired" in response.content


def test_the_link_is_made_for_the_contact_and_its_email(first_order):
    token = first_order.rstrip("/").rsplit("/", 1)[1]
    data = read_preferences_token(token)
    contact = Contact.objects.get()
    assert data.contact_id == contact.pk
    assert data.message_id == str(contact.messages.get(category="marketing").pk)


def test_turning_a_topic_off_skips_it_at_the_next_claim(first_order, client):
    assert post(client, first_order, topics=("offers", "reviews")).status_code == 200
    tips = EmailStepFactory(flow=FlowFactory(), category="marketing", topic="tips")
    offers = EmailStepFactory(flow=FlowFactory(), category="marketing", topic="offers")
    order(number="1002")
    assert outcome(tips) == [("suppressed", consent.topic_withdrawn("tips"))]
    assert outcome(offers) == SENT
    records = ConsentRecord.objects.filter(source="preferences").order_by("pk")
    assert [(r.purpose, r.state) for r in records] == [
        ("marketing", "granted"),
        ("offers", "granted"),
        ("reviews", "granted"),
        ("tips", "withdrawn"),
    ]
    assert all(r.message_id and "Choose which emails" in r.wording for r in records)
    assert "Product tips" in records.last().wording


def test_only_order_updates_stops_marketing_but_not_order_emails(first_order, client):
    assert post(client, first_order, frequency="orders_only").status_code == 200
    contact = Contact.objects.get()
    assert contact.email_frequency == "orders_only"
    service, offer = two_flows()
    order(number="1002")
    assert outcome(service) == SENT
    assert outcome(offer) == [("suppressed", consent.ORDERS_ONLY)]
    [record] = ConsentRecord.objects.filter(purpose="frequency")
    assert (record.frequency, record.source) == ("orders_only", "preferences")
    assert "Only order updates" in record.wording


@pytest.mark.parametrize("frequency", ["weekly", "monthly", "all"])
def test_a_frequency_is_stored_on_the_contact(first_order, client, frequency):
    post(client, first_order, frequency=frequency)
    assert Contact.objects.get().email_frequency == frequency
    recorded = ConsentRecord.objects.filter(purpose="frequency").count()
    assert recorded == (0 if frequency == "all" else 1)  # "all" is what it was


def test_unsubscribe_from_all(first_order, client):
    response = client.post(first_order, {"unsubscribe_all": "1"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    contact = Contact.objects.get()
    assert contact.unsubscribed_at is not None
    service, offer = two_flows()
    order(number="1002")
    assert outcome(service) == SENT
    assert outcome(offer) == [("suppressed", "unsubscribed")]
    assert history()[-1] == ("marketing", "withdrawn", "", "preferences")


def test_no_topic_ticked_is_an_unsubscribe(first_order, client):
    post(client, first_order, topics=())
    assert Contact.objects.get().unsubscribed_at is not None


def test_ticking_topics_again_resubscribes(first_order, client):
    client.post(first_order, {"unsubscribe_all": "1"})
    post(client, first_order, topics=("tips",))
    contact = Contact.objects.get()
    assert contact.unsubscribed_at is None
    page = client.get(first_order).content.decode()
    assert 'value="tips" checked' in page and 'value="offers" checked' not in page
    _, offer = two_flows(topic="offers")
    _, tips = two_flows(topic="tips")
    order(number="1002")
    assert outcome(offer) == [("suppressed", consent.topic_withdrawn("offers"))]
    assert outcome(tips) == SENT


def test_an_unknown_frequency_is_refused_and_changes_nothing(first_order, client):
    before = history()
    assert post(client, first_order, frequency="hourly").status_code == 400
    assert history() == before


def test_saving_the_same_choice_twice_records_it_once(first_order, client):
    post(client, first_order, topics=("offers",))
    count = ConsentRecord.objects.count()
    post(client, first_order, topics=("offers",))
    assert ConsentRecord.objects.count() == count


@pytest.mark.parametrize(
    ("locale", "title"),
    [("en", "Email preferences"), ("ru", "Настройки рассылки"), ("uk", "Налаштування розсилки")],
)
def test_the_page_speaks_the_contacts_language(db, client, locale, title):
    contact = ContactFactory(email=f"{locale}@example.com", locale=locale)
    response = client.get(f"/postpurchase/preferences/{make_preferences_token(contact.pk)}/")
    assert title in response.content.decode()


def test_posts_are_rate_limited_per_contact(first_order, client):
    codes = [post(client, first_order, frequency="weekly").status_code for _ in range(21)]
    assert codes[:20] == [200] * 20 and codes[20] == 429


def test_bad_tokens_are_rate_limited_per_client(db, client):
    codes = [
        client.post("/postpurchase/preferences/junk/", {"frequency": "all"}).status_code
        for _ in range(21)
    ]
    assert codes[:20] == [400] * 20 and codes[20] == 429
