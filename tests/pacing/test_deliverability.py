"""From address and message stream per category through Anymail's real Postmark backend
(only HTTP faked); the postal address and unsubscribe link in every marketing email; the
system checks for both, for one-click unsubscribe over HTTPS and for streams an ESP does
not have."""

from __future__ import annotations

import pytest

from postpurchase.checks import check_deliverability
from postpurchase.models import Message

from ..core.helpers import place, run_clock

pytestmark = pytest.mark.django_db

MARKETING_FROM = "Backpack News <news@mail.example.com>"
ORDERS_FROM = "Backpack Orders <orders@example.com>"


def by_category(fake_postmark) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    categories = {str(m.pk): m.category for m in Message.objects.all()}
    for request in fake_postmark.accepted:
        category = categories[request.metadata["postpurchase_message"]]
        found.setdefault(category, []).append(request.payload)
    return found


def test_from_address_and_stream_per_category(
    settings, fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "FROM_EMAILS": {"marketing": MARKETING_FROM, "transactional": ORDERS_FROM},
        "MESSAGE_STREAMS": {"marketing": "broadcast", "transactional": "outbound"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        place()
    run_clock(frozen)
    sent = by_category(fake_postmark)
    assert len(sent["transactional"]) == 1 and len(sent["marketing"]) == 2
    assert {(p["From"], p["MessageStream"]) for p in sent["transactional"]} == {
        (ORDERS_FROM, "outbound")
    }
    assert {(p["From"], p["MessageStream"]) for p in sent["marketing"]} == {
        (MARKETING_FROM, "broadcast")
    }


def test_a_category_left_out_keeps_the_shared_from_and_stream(
    settings, fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "FROM_EMAILS": {"marketing": MARKETING_FROM},
        "MESSAGE_STREAMS": {"marketing": "broadcast"},
    }
    settings.DEFAULT_FROM_EMAIL = ORDERS_FROM
    with django_capture_on_commit_callbacks(execute=True):
        place()
    (payload,) = by_category(fake_postmark)["transactional"]
    assert payload["From"] == ORDERS_FROM
    assert "MessageStream" not in payload  # Postmark's default stream


def test_every_marketing_email_carries_the_address_and_unsubscribe_link(
    settings, fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    run_clock(frozen)
    address = settings.POSTPURCHASE["BRAND"]["address"]
    for payload in by_category(fake_postmark)["marketing"]:
        assert address in payload["HtmlBody"] and address in payload["TextBody"]
        assert "/unsubscribe/" in payload["HtmlBody"]
        headers = {h["Name"]: h["Value"] for h in payload["Headers"]}
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def ids(settings_values: dict, settings, debug: bool = True) -> list[str]:
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, **settings_values}
    settings.DEBUG = debug
    return [problem.id for problem in check_deliverability()]


def test_checks_pass_with_an_address_and_https(settings):
    assert ids({"SITE_URL": "https://shop.example.com"}, settings, debug=False) == []


def test_check_postal_address_missing(settings):
    brand = {**settings.POSTPURCHASE["BRAND"], "address": " "}
    assert ids({"BRAND": brand}, settings) == ["postpurchase.W005"]


def test_check_one_click_unsubscribe_needs_https_in_production(settings):
    assert ids({"SITE_URL": "http://shop.example.com"}, settings, debug=False) == [
        "postpurchase.W006"
    ]
    # While developing (DEBUG), http://127.0.0.1 is fine.
    assert ids({"SITE_URL": "http://127.0.0.1:8000"}, settings, debug=True) == []


def test_check_streams_need_an_esp_that_has_them(settings):
    streams = {"MESSAGE_STREAMS": {"marketing": "broadcast"}}
    settings.EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    assert ids(streams, settings) == ["postpurchase.W007"]
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    assert ids(streams, settings) == []
