"""What tracking rolls up on the Message (both webhook paths, see conftest): the first
delivery, bounce, complaint and unsubscribe, the first human open and click, and the
human and machine counts; a replayed webhook changes none of it."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase

from postpurchase import signals
from postpurchase.models import Message

from .conftest import sent_message
from .payloads import ESPS, KINDS, auth_headers, second_event_id, sendgrid_event

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

ROLLUPS = (
    "delivered_at",
    "bounced_at",
    "complained_at",
    "unsubscribed_at",
    "opened_at",
    "clicked_at",
    "opens",
    "machine_opens",
    "clicks",
    "machine_clicks",
)

#: The roll-up each kind of event fills (a click is an open too).
FILLS = {
    "delivered": {"delivered_at"},
    "bounced": {"bounced_at"},
    "complained": {"complained_at"},
    "unsubscribed": {"unsubscribed_at"},
    "opened": {"opened_at", "opens"},
    "clicked": {"clicked_at", "opened_at", "clicks"},
}


def rollups(message) -> dict:
    return Message.objects.values(*ROLLUPS).get(pk=message.pk)


@pytest.mark.parametrize("esp,kind", [(e, k) for e in ESPS for k in KINDS[e]])
def test_each_event_fills_its_rollup_once(post, esp, kind):
    message = sent_message()
    post(esp, kind, message)
    after = rollups(message)
    filled = {name for name, value in after.items() if value}
    assert filled == FILLS[kind]
    post(esp, kind, message)  # the ESP posts the same event again
    assert rollups(message) == after


def test_a_soft_bounce_is_no_bounce(post):
    message = sent_message()
    post("postmark", "soft_bounced", message)
    assert rollups(message)["bounced_at"] is None


@pytest.mark.parametrize("esp", ESPS)
def test_machine_events_are_counted_apart(post, esp):
    message = sent_message()
    post(esp, "machine", message)
    kind = "clicked" if esp == "resend" else "opened"
    post(esp, kind, message, event_id=second_event_id(esp))
    got = rollups(message)
    if kind == "opened":
        assert (got["opens"], got["machine_opens"]) == (1, 1)
    else:
        assert (got["clicks"], got["machine_clicks"]) == (1, 1)
        assert got["clicked_at"] is not None
    assert got["opened_at"] is not None  # the person's


def _post_sendgrid(client, events):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/anymail/sendgrid/tracking/",
            data=json.dumps(events),
            content_type="application/json",
            **auth_headers(),
        )
    assert response.status_code == 200


def test_counters_count_every_event_and_a_replayed_post_none(client, db):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    events = [sendgrid_event("opened", message.to_email, meta, f"sg-{i}") for i in range(3)]
    events[0]["sg_machine_open"] = True
    for i, event in enumerate(events):
        event["timestamp"] += 60 * i
    events.append(sendgrid_event("clicked", message.to_email, meta, "sg-9"))
    events[-1]["timestamp"] += 600
    _post_sendgrid(client, events)
    _post_sendgrid(client, events)  # SendGrid retries the whole post
    got = rollups(message)
    assert (got["opens"], got["machine_opens"], got["clicks"], got["machine_clicks"]) == (
        2,
        1,
        1,
        0,
    )
    # The first human open, not the proxy's earlier one.
    assert got["opened_at"].timestamp() == events[1]["timestamp"]


def test_the_opened_and_clicked_signals_say_whether_a_machine_made_them(post):
    message = sent_message()
    heard = []

    def receiver(sender, signal, **kwargs):
        heard.append((signal, kwargs["first"], kwargs["machine"], kwargs["event"].machine_reason))

    signals.message_opened.connect(receiver)
    try:
        post("sendgrid", "machine", message)
        post("sendgrid", "opened", message, event_id="sg-event-2")
    finally:
        signals.message_opened.disconnect(receiver)
    assert heard == [
        (signals.message_opened, False, True, "esp_flag"),
        (signals.message_opened, True, False, ""),
    ]
