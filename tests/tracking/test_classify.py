"""Human or machine: each rule of postpurchase.tracking.classify, with its stored reason,
through both recording paths (one by one, and a post at once)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from anymail.signals import AnymailTrackingEvent, EventType

from postpurchase import clock
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.models import Message, MessageEvent
from postpurchase.tracking import classify
from postpurchase.tracking.record import record, record_many

from .conftest import sent_message
from .payloads import SCANNER_UA, UA

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]


@pytest.fixture(params=["one by one", "batched"])
def store(request):
    """Record a list of events, one by one or as one post."""
    if request.param == "batched":
        return lambda events, esp="postmark": record_many([(e, esp) for e in events])
    return lambda events, esp="postmark": [record(e, esp) for e in events]


def hit(message, kind=EventType.OPENED, *, after=3600.0, **fields):
    """An open (or click) of ``message``, ``after`` seconds after it was sent."""
    base = dict(
        event_type=kind,
        timestamp=message.sent_at + timedelta(seconds=after),
        event_id=str(uuid.uuid4()),
        metadata={META_MESSAGE: str(message.pk)},
        recipient=message.to_email,
        user_agent=UA,
        esp_event={},
    )
    base.update(fields)
    return AnymailTrackingEvent(**base)


def click(message, url="https://shop.example.com/a", **fields):
    return hit(message, EventType.CLICKED, click_url=url, **fields)


def reasons(message):
    return list(
        MessageEvent.objects.filter(message=message)
        .order_by("occurred_at", "id")
        .values_list("machine_reason", flat=True)
    )


def test_a_person_s_open_and_click_are_human(store):
    message = sent_message()
    store([hit(message), click(message, after=3700)])
    assert reasons(message) == ["", ""]
    assert not MessageEvent.objects.filter(machine=True).exists()


@pytest.mark.parametrize(
    "esp_event,esp",
    [
        ({"sg_machine_open": True, "event": "open"}, "sendgrid"),
        ({"event": "unique_proxy_open"}, "brevo"),
        ({"event": "proxy_open"}, "brevo"),
        ({"event-data": {"client-info": {"bot": "generic"}}}, "mailgun"),
    ],
)
def test_the_esp_s_own_machine_flag(store, esp_event, esp):
    message = sent_message()
    store([hit(message, esp_event=esp_event)], esp)
    assert reasons(message) == ["esp_flag"]


def test_a_false_esp_flag_is_not_a_machine(store):
    message = sent_message()
    events = [
        hit(message, esp_event={"sg_machine_open": False}),
        hit(message, esp_event={"event-data": {"client-info": {"bot": ""}}}),
    ]
    store(events, "sendgrid")
    assert reasons(message) == ["", ""]


def test_apple_mail_privacy_protection(store):
    message = sent_message()
    store([hit(message, user_agent="Mozilla/5.0"), hit(message, esp_event={"ip": "17.58.1.2"})])
    assert reasons(message) == ["apple_mpp", "apple_mpp"]


def test_an_image_proxy_prefetching_on_arrival_is_a_machine_later_a_person(store):
    message = sent_message()
    proxy = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    store([hit(message, after=2, user_agent=proxy), hit(message, after=7200, user_agent=proxy)])
    assert reasons(message) == ["proxy_prefetch", ""]


@pytest.mark.parametrize(
    "agent", [SCANNER_UA, "python-requests/2.31.0", "Mozilla/5.0 (compatible; bingbot/2.0)"]
)
def test_known_scanner_user_agents(store, agent):
    message = sent_message()
    store([click(message, user_agent=agent)])
    assert reasons(message) == ["scanner_agent"]


def test_mail_apps_are_not_scanners(store):
    message = sent_message()
    outlook = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15"
    store([hit(message, user_agent=outlook), click(message, user_agent=iphone)])
    assert reasons(message) == ["", ""]


def test_a_phone_whose_model_ends_in_bot_is_a_person(store):
    """Cubot phones name themselves in their browser's user agent ("CUBOT P40"): that
    is a person's click, not a crawler's "...bot"."""
    message = sent_message()
    cubot = (
        "Mozilla/5.0 (Linux; Android 11; CUBOT P40) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.6045.163 Mobile Safari/537.36"
    )
    store([click(message, user_agent=cubot)])
    assert reasons(message) == [""]


def test_configured_networks(store, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MACHINE_NETWORKS": ["198.51.100.0/24"]}
    message = sent_message()
    store([click(message, esp_event={"ip": "198.51.100.9"}), hit(message, after=4000)])
    assert reasons(message) == ["network", ""]


def test_a_click_seconds_after_sending_or_delivery_is_a_scanner(store):
    message = sent_message()
    store([click(message, after=3), click(message, after=7200, url="https://shop.example.com/b")])
    assert reasons(message) == ["too_soon", ""]
    other = sent_message()
    delivered = AnymailTrackingEvent(
        event_type=EventType.DELIVERED,
        timestamp=other.sent_at + timedelta(minutes=30),
        event_id=str(uuid.uuid4()),
        metadata={META_MESSAGE: str(other.pk)},
        recipient=other.to_email,
    )
    # Delivered half an hour late (greylisting): the scanner clicks on delivery.
    store([delivered, click(other, after=1805)])
    assert MessageEvent.objects.get(message=other, kind="clicked").machine_reason == "too_soon"


def test_an_open_soon_after_sending_is_not_judged_by_its_timing(store):
    message = sent_message()
    store([hit(message, after=2)])
    assert reasons(message) == [""]


def test_clicks_on_many_links_within_a_second_are_a_burst(store):
    message = sent_message()
    store(
        [
            click(message, url="https://shop.example.com/a", after=600),
            click(message, url="https://shop.example.com/b", after=600.4),
            click(message, url="https://shop.example.com/c", after=600.8),
        ]
    )
    assert reasons(message) == ["click_burst"] * 3
    message.refresh_from_db()
    assert (message.clicks, message.machine_clicks, message.clicked_at) == (0, 3, None)


def test_a_burst_across_posts_takes_back_the_first_click(store):
    """The first click of a burst looked human when it came alone: the next one, half a
    second later on another link, shows it was a scanner's, and the roll-ups follow."""
    message = sent_message()
    store([click(message, url="https://shop.example.com/a", after=600)])
    message.refresh_from_db()
    assert (message.clicks, message.clicked_at is not None) == (1, True)
    store([click(message, url="https://shop.example.com/b", after=600.5)])
    assert reasons(message) == ["click_burst", "click_burst"]
    message.refresh_from_db()
    assert (message.clicks, message.machine_clicks) == (0, 2)
    assert message.clicked_at is None and message.opened_at is None


def test_a_burst_keeps_the_first_human_open_and_click_before_it(store):
    message = sent_message()
    opened = hit(message, after=100)
    human = click(message, url="https://shop.example.com/a", after=200)
    store([opened, human, click(message, url="https://shop.example.com/b", after=600)])
    store([click(message, url="https://shop.example.com/c", after=600.2)])
    message.refresh_from_db()
    assert reasons(message) == ["", "", "click_burst", "click_burst"]
    assert (message.opens, message.clicks, message.machine_clicks) == (1, 1, 2)
    assert message.opened_at == opened.timestamp
    assert message.clicked_at == human.timestamp


def test_a_burst_finds_the_next_human_click_as_the_first(store):
    message = sent_message()
    scanner_first = click(message, url="https://shop.example.com/a", after=600)
    person = click(message, url="https://shop.example.com/a", after=5000)
    store([scanner_first])
    store([person, click(message, url="https://shop.example.com/b", after=600.3)])
    message.refresh_from_db()
    assert reasons(message) == ["click_burst", "click_burst", ""]
    assert message.clicked_at == message.opened_at == person.timestamp
    assert (message.clicks, message.machine_clicks) == (1, 2)


def test_the_same_link_twice_in_a_second_is_a_double_click_not_a_burst(store):
    message = sent_message()
    store([click(message, after=600), click(message, after=600.3)])
    assert reasons(message) == ["", ""]


def test_clicks_of_other_messages_are_no_burst(store):
    one, two = sent_message(), sent_message()
    store([click(one, after=600), click(two, url="https://shop.example.com/b", after=600.2)])
    assert reasons(one) == reasons(two) == [""]


def shop_rule(hit):
    """A shop's rule: its own monitoring service's user agent."""
    return "uptime_robot" if "UptimeMonitor" in hit.event.user_agent else None


def broken_rule(hit):
    raise RuntimeError("bug in the shop's rule")


def test_the_shop_s_own_rules_run_after_the_built_in_ones(store, settings, caplog):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "MACHINE_CLASSIFIERS": [f"{__name__}.broken_rule", f"{__name__}.shop_rule"],
    }
    message = sent_message()
    with caplog.at_level(logging.ERROR, logger="postpurchase.tracking"):
        store([hit(message, user_agent="UptimeMonitor 1.0"), hit(message, after=4000)])
    assert reasons(message) == ["uptime_robot", ""]
    # The broken rule is logged (with the event's id, no address) and skipped.
    assert any("machine classifier" in r.getMessage() for r in caplog.records)
    assert message.to_email not in caplog.text


def test_bad_classifier_settings_are_refused(settings):
    from postpurchase.conf import get_setting

    for key, value in [
        ("MACHINE_CLASSIFIERS", ["no.such.module.rule"]),
        ("MACHINE_CLASSIFIERS", "not a list"),
        ("MACHINE_NETWORKS", ["not-a-network"]),
        ("MACHINE_CLICK_SECONDS", 0),
        ("FIRST_PARTY_TRACKING", "yes"),
    ]:
        settings.POSTPURCHASE = {**settings.POSTPURCHASE, key: value}
        with pytest.raises(PostpurchaseConfigurationError, match=key):
            get_setting(key)


def test_the_rules_list_is_documented_in_the_module():
    for rule in classify.RULES:
        code = rule(classify.Hit(MessageEvent(kind="bounced", user_agent=""), {}))
        assert code is None  # a bounce is never classified
        assert f"``{rule.__name__}``" in classify.__doc__


def test_only_opens_and_clicks_are_classified(store):
    message = sent_message()
    store(
        [
            AnymailTrackingEvent(
                event_type=EventType.DELIVERED,
                timestamp=clock.now(),
                event_id="d-1",
                metadata={META_MESSAGE: str(message.pk)},
                user_agent="python-requests/2.31.0",
            )
        ]
    )
    assert not MessageEvent.objects.get().machine
    assert Message.objects.get(pk=message.pk).delivered_at is not None
