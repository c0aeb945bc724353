"""First-party tracking (FIRST_PARTY_TRACKING): links through a signed redirect, an open
pixel and a honeypot link in emails as sent; hits recorded as MessageEvents of ESP
"first-party", and nothing else changed."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from html import unescape

import pytest
from django.core import mail, signing
from django.test import TestCase

from postpurchase import clock
from postpurchase.email.previews import preview_step, send_test
from postpurchase.models import Contact, Enrollment, Message, MessageEvent
from postpurchase.public import tokens
from postpurchase.testing.factories import (
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
)

from ..core.helpers import run_due

pytestmark = pytest.mark.django_db

SHOP_LINK = "https://shop.example.com/product/backpack?utm_source=email&amp;b=2"
SHOP_URL = unescape(SHOP_LINK)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
BODY = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>"
    "Hello {{ contact.first_name }}! "
    f'<a href="{SHOP_LINK}">the backpack</a> '
    '<a href="mailto:help@example.com">write to us</a> '
    '{% if unsubscribe_url %}<a href="{{ unsubscribe_url }}">unsubscribe</a>{% endif %}'
    '{% if preferences_url %}<a href="{{ preferences_url }}">preferences</a>{% endif %}'
    "</mj-text>"
    '<mj-button href="https://shop.example.com/reviews">Review it</mj-button>'
    "</mj-column></mj-section></mj-body></mjml>"
)


@pytest.fixture
def tracking_on(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "FIRST_PARTY_TRACKING": True,
        "SITE_URL": "https://shop.example.com",
    }
    return settings


def email_step(category="marketing"):
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, language="en", body=BODY)
    return EmailStepFactory(flow=FlowFactory(), template=template, category=category)


def send(category="marketing"):
    """Send an email step's email to one enrollment; (message, its HTML as sent)."""
    step = email_step(category)
    EnrollmentFactory(flow=step.flow)
    run_due()
    (sent,) = mail.outbox
    html = next(content for content, kind in sent.alternatives if kind == "text/html")
    return Message.objects.get(step=step), html


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def path_of(url: str) -> str:
    return url.removeprefix("https://shop.example.com")


def click_links(html: str) -> list[str]:
    return [path_of(u) for u in links(html) if "/track/click/" in u]


def pixel(html: str) -> str:
    (src,) = [unescape(s) for s in re.findall(r'src="([^"]+/track/open/[^"]+)"', html)]
    return path_of(src)


def hit(client, path, method="get", agent=BROWSER, **extra):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return getattr(client, method)(path, HTTP_USER_AGENT=agent, **extra)


# --- the email as sent -------------------------------------------------------------


def test_links_go_through_the_redirect_with_a_pixel_and_a_honeypot(tracking_on):
    message, html = send()
    found = links(html)
    # The shop's links are tracked; mailto, the unsubscribe and the preference centre
    # links are left alone (the customer's choices must not pass a redirect).
    assert SHOP_URL not in found
    assert "mailto:help@example.com" in found
    assert any("/postpurchase/unsubscribe/" in u for u in found)
    assert any("/postpurchase/preferences/" in u for u in found)
    tracked = click_links(html)
    assert len(tracked) == 3  # the text link, the button, the honeypot
    destinations = {tokens.read_track_token(p.split("/")[-2]).url for p in tracked}
    assert destinations == {
        SHOP_URL,
        "https://shop.example.com/reviews",
        "https://shop.example.com/",
    }
    honeypots = [p for p in tracked if tokens.read_track_token(p.split("/")[-2]).honeypot]
    assert len(honeypots) == 1
    assert "display:none" in html.split(honeypots[0].split("/")[-2])[1].split(">")[0]
    assert tokens.read_track_token(pixel(html).split("/")[-2]).message_id == str(message.pk)
    # The token sits in the path: nothing for a mail app to strip.
    assert all("?" not in p for p in tracked)


def test_off_by_default_and_for_transactional_email(settings, tracking_on):
    _, html = send("transactional")
    assert SHOP_URL in links(html) and not click_links(html)
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "FIRST_PARTY_TRACK_TRANSACTIONAL": True}
    mail.outbox = []
    _, html = send("transactional")
    assert click_links(html)
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "FIRST_PARTY_TRACKING": False}
    mail.outbox = []
    _, html = send()
    assert SHOP_URL in links(html) and not click_links(html)


def test_previews_and_test_sends_are_not_tracked(tracking_on):
    step = email_step()
    assert not click_links(preview_step(step).html)
    send_test(step, "staff@example.com")
    (sent,) = mail.outbox
    assert not click_links(sent.alternatives[0][0])
    assert not MessageEvent.objects.exists()


# --- hits --------------------------------------------------------------------------


def snapshot(message):
    """Everything a hit must leave alone: the contact, the enrollment, the message
    apart from its tracking roll-ups."""
    rollups = {"opened_at", "clicked_at", "opens", "machine_opens", "clicks", "machine_clicks"}
    fields = [f.attname for f in Message._meta.concrete_fields if f.attname not in rollups]
    return (
        Contact.objects.values().get(pk=message.contact_id),
        Enrollment.objects.values().get(pk=message.enrollment_id),
        Message.objects.values(*fields).get(pk=message.pk),
    )


def test_a_click_redirects_to_the_link_and_records_the_event(client, tracking_on, frozen):
    message, html = send()
    before = snapshot(message)
    frozen.advance(timedelta(hours=1))
    link = next(
        p for p in click_links(html) if tokens.read_track_token(p.split("/")[-2]).url == SHOP_URL
    )
    response = hit(client, link, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    assert response["Location"] == SHOP_URL
    assert "no-store" in response["Cache-Control"]
    event = MessageEvent.objects.get()
    assert (event.esp, event.kind, event.message_id, event.url) == (
        "first-party",
        "clicked",
        message.pk,
        SHOP_URL,
    )
    assert (event.user_agent, event.ip, event.machine) == (BROWSER, "203.0.113.9", False)
    message.refresh_from_db()
    assert (message.clicks, message.clicked_at, message.opened_at) == (1, clock.now(), clock.now())
    assert snapshot(message) == before


def test_the_pixel_records_an_open(client, tracking_on, frozen):
    message, html = send()
    before = snapshot(message)
    frozen.advance(timedelta(hours=1))
    response = hit(client, pixel(html))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    event = MessageEvent.objects.get()
    assert (event.kind, event.machine, event.message_id) == ("opened", False, message.pk)
    message.refresh_from_db()
    assert (message.opens, message.opened_at, message.clicked_at) == (1, clock.now(), None)
    assert snapshot(message) == before


@pytest.mark.parametrize("what", ["click", "open"])
def test_a_head_request_is_a_machine_and_changes_nothing_else(client, tracking_on, frozen, what):
    message, html = send()
    before = snapshot(message)
    frozen.advance(timedelta(hours=1))
    path = click_links(html)[0] if what == "click" else pixel(html)
    response = hit(client, path, method="head")
    assert response.status_code == (302 if what == "click" else 200)
    event = MessageEvent.objects.get()
    assert (event.machine, event.machine_reason) == (True, "head_request")
    message.refresh_from_db()
    assert (message.opened_at, message.clicked_at, message.opens, message.clicks) == (
        None,
        None,
        0,
        0,
    )
    assert message.machine_opens + message.machine_clicks == 1
    assert snapshot(message) == before


def test_no_user_agent_is_a_machine(client, tracking_on, frozen):
    _, html = send()
    frozen.advance(timedelta(hours=1))
    hit(client, pixel(html), agent="")
    assert MessageEvent.objects.get().machine_reason == "no_user_agent"


def test_the_honeypot_is_a_machine_and_so_are_the_clicks_around_it(client, tracking_on, frozen):
    message, html = send()
    frozen.advance(timedelta(hours=1))
    honeypot, *_ = [
        p for p in click_links(html) if tokens.read_track_token(p.split("/")[-2]).honeypot
    ]
    other = next(p for p in click_links(html) if p != honeypot)
    hit(client, other)  # a scanner follows every link: this one first...
    response = hit(client, honeypot)  # ... then the one no person sees
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/"
    assert sorted(MessageEvent.objects.values_list("machine_reason", flat=True)) == [
        "click_burst",
        "honeypot",
    ]
    message.refresh_from_db()
    assert (message.clicks, message.machine_clicks, message.clicked_at) == (0, 2, None)


def test_a_click_right_after_sending_is_a_scanner(client, tracking_on, frozen):
    _, html = send()
    frozen.advance(timedelta(seconds=2))
    hit(client, click_links(html)[0])
    assert MessageEvent.objects.get().machine_reason == "too_soon"


# --- links that are not ours ---------------------------------------------------------


def _token(path: str) -> str:
    return path.split("/")[-2]


def test_a_tampered_token_is_refused_and_records_nothing(client, tracking_on):
    _, html = send()
    path = click_links(html)[0]
    token = _token(path)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    response = hit(client, path.replace(token, flipped))
    assert response.status_code == 404
    assert "Location" not in response
    assert not MessageEvent.objects.exists()


def test_a_destination_not_in_the_email_cannot_be_reached(client, tracking_on):
    message, html = send()
    # A token of the same message for another destination, signed with another key:
    # what someone without the shop's SECRET_KEY can make.
    forged = signing.TimestampSigner(key="attacker", salt=tokens.TRACK_SALT).sign_object(
        {"m": str(message.pk), "u": "https://evil.example.net/"}, compress=True
    )
    response = hit(client, f"/postpurchase/track/click/{forged}/")
    assert response.status_code == 404
    # The payload of a genuine token swapped for another destination breaks its signature.
    genuine = _token(click_links(html)[0])
    swapped = signing.TimestampSigner(salt=tokens.TRACK_SALT).sign_object(
        {"m": str(message.pk), "u": "https://evil.example.net/"}, compress=True
    )
    mixed = swapped.rsplit(":", 2)[0] + ":" + genuine.split(":", 1)[1]
    assert hit(client, f"/postpurchase/track/click/{mixed}/").status_code == 404
    assert not MessageEvent.objects.exists()


def test_other_links_tokens_do_not_work_here(client, tracking_on):
    message, html = send()
    unsubscribe = tokens.make_unsubscribe_token(message.contact_id, message.pk)
    assert hit(client, f"/postpurchase/track/click/{unsubscribe}/").status_code == 404
    # The pixel's token is no link, and a link's token is no pixel.
    assert hit(client, f"/postpurchase/track/click/{_token(pixel(html))}/").status_code == 404
    hit(client, f"/postpurchase/track/open/{_token(click_links(html)[0])}/")
    assert not MessageEvent.objects.exists()


def test_a_token_with_a_non_web_destination_is_refused():
    token = tokens.make_track_token("0b1e1d3c-0000-4000-8000-000000000000", "javascript:alert(1)")
    with pytest.raises(signing.BadSignature):
        tokens.read_track_token(token)


def test_an_expired_link_still_leads_to_the_shop_but_is_not_counted(client, tracking_on, frozen):
    _, html = send()
    frozen.advance(timedelta(days=366))
    link = click_links(html)[0]
    response = hit(client, link)
    assert response.status_code == 302
    assert hit(client, pixel(html)).status_code == 200
    assert not MessageEvent.objects.exists()


def test_posting_is_not_allowed(client, tracking_on):
    _, html = send()
    assert client.post(click_links(html)[0]).status_code == 405
    assert client.post(pixel(html)).status_code == 405


def test_hits_of_one_message_are_limited(client, tracking_on, frozen, monkeypatch):
    from postpurchase.public.ratelimit import Limit
    from postpurchase.tracking import firstparty

    monkeypatch.setattr(firstparty, "HITS", Limit("track-hit-test", attempts=3, window=3600))
    _, html = send()
    frozen.advance(timedelta(hours=1))
    for _ in range(5):
        assert hit(client, pixel(html)).status_code == 200
    assert MessageEvent.objects.count() == 3


def test_logs_carry_ids_only(client, tracking_on, frozen, caplog):
    message, html = send()
    frozen.advance(timedelta(hours=1))
    with caplog.at_level(logging.DEBUG, logger="postpurchase"):
        for path in click_links(html) + [pixel(html)]:
            hit(client, path, REMOTE_ADDR="203.0.113.9")
    assert caplog.records
    assert message.to_email not in caplog.text
    assert "203.0.113.9" not in caplog.text
    assert BROWSER not in caplog.text
