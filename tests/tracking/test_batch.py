"""A webhook post's events recorded together (postpurchase.tracking.urls) come out as
recorded one by one (anymail.urls); every test here runs on both (see conftest)."""

from __future__ import annotations

import json
import math

import pytest
from django.db import DatabaseError, connection
from django.db.models.query import QuerySet
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from postpurchase import signals
from postpurchase.models import Contact, Message, MessageEvent

from .conftest import sent_message
from .payloads import auth_headers, sendgrid_event

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

SENDGRID = "/anymail/sendgrid/tracking/"


def post_batch(client, events):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            SENDGRID, data=json.dumps(events), content_type="application/json", **auth_headers()
        )


@pytest.fixture
def heard():
    got = []

    def receiver(sender, signal, **kwargs):
        got.append((signal, kwargs))

    watched = (
        signals.message_opened,
        signals.message_clicked,
        signals.message_bounced,
        signals.message_complained,
        signals.contact_suppressed,
        signals.unsubscribed,
    )
    for signal in watched:
        signal.connect(receiver)
    yield got
    for signal in watched:
        signal.disconnect(receiver)


def test_the_same_event_twice_in_one_post_counts_once(client, db, heard):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    opened = sendgrid_event("opened", message.to_email, meta, "sg-1")
    bounced = sendgrid_event("bounced", message.to_email, meta, "sg-2")
    assert post_batch(client, [opened, bounced, opened, bounced]).status_code == 200
    assert sorted(MessageEvent.objects.values_list("event_id", flat=True)) == ["sg-1", "sg-2"]
    assert [s for s, _ in heard] == [
        signals.message_opened,
        signals.contact_suppressed,
        signals.message_bounced,
    ]


def test_a_click_before_any_open_in_one_post_is_the_first_open(client, db, heard):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    click = sendgrid_event("clicked", message.to_email, meta, "sg-1")
    later_open = {**sendgrid_event("opened", message.to_email, meta, "sg-2")}
    later_open["timestamp"] += 60
    second_click = {**sendgrid_event("clicked", message.to_email, meta, "sg-3")}
    second_click["timestamp"] += 120
    assert post_batch(client, [click, later_open, second_click]).status_code == 200
    message.refresh_from_db()
    assert message.opened_at == message.clicked_at is not None
    assert [(s, kw["first"]) for s, kw in heard] == [
        (signals.message_clicked, True),
        (signals.message_opened, False),
        (signals.message_clicked, False),
    ]


def test_in_one_post_the_first_suppression_reason_stays(client, db, heard):
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    events = [
        sendgrid_event("complained", message.to_email, meta, "sg-1"),
        sendgrid_event("bounced", message.to_email, meta, "sg-2"),
        sendgrid_event("unsubscribed", message.to_email, meta, "sg-3"),
        sendgrid_event("unsubscribed", message.to_email, meta, "sg-4"),
    ]
    assert post_batch(client, events).status_code == 200
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.suppression_reason == "complaint"
    assert contact.unsubscribed_at is not None
    assert [s for s, _ in heard] == [
        signals.contact_suppressed,
        signals.message_complained,
        signals.message_bounced,
        signals.unsubscribed,
    ]
    assert [kw["hard"] for s, kw in heard if s is signals.message_bounced] == [True]


def test_a_failing_flush_answers_500_and_records_nothing(db, webhook_urls, monkeypatch):
    if webhook_urls == "per_event":
        pytest.skip("one by one, the events before the failure stay recorded")
    message = sent_message()
    meta = {"postpurchase_message": str(message.pk)}
    events = [
        sendgrid_event("delivered", message.to_email, meta, "sg-1"),
        sendgrid_event("opened", message.to_email, meta, "sg-2"),
        sendgrid_event("bounced", message.to_email, meta, "sg-3"),
    ]
    update = QuerySet.update

    def failing_update(self, **kwargs):
        if self.model is Contact:  # after the events and the first open are written
            raise DatabaseError("disk full")
        return update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", failing_update)
    response = post_batch(Client(raise_request_exception=False), events)
    assert response.status_code == 500
    assert not MessageEvent.objects.exists()
    assert Message.objects.get(pk=message.pk).opened_at is None
    assert Contact.objects.get(pk=message.contact_id).suppressed_at is None


KINDS = ["delivered", "opened", "clicked", "bounced", "unsubscribed"]


def _events(count: int) -> list[dict]:
    events = []
    for m in range(count // len(KINDS)):
        message = sent_message()
        meta = {"postpurchase_message": str(message.pk)}
        for kind in KINDS:
            events.append(sendgrid_event(kind, message.to_email, meta, f"sg-{m}-{kind}"))
    return events


def test_the_queries_of_a_post_do_not_grow_with_its_events(client, db, webhook_urls):
    if webhook_urls == "per_event":
        pytest.skip("one by one, each event costs its own queries")
    counted = {}
    for count in (20, 200):
        events = _events(count)
        with CaptureQueriesContext(connection) as queries:
            assert post_batch(client, events).status_code == 200
        assert (
            MessageEvent.objects.filter(event_id__in=[e["sg_event_id"] for e in events]).count()
            == count
        )
        inserts = [
            q for q in queries if q["sql"].startswith('INSERT INTO "postpurchase_messageevent"')
        ]
        others = [q["sql"] for q in queries if q not in inserts]
        counted[count] = (len(others), len(inserts))
    # Only the insert is split, and only where the database limits a statement's
    # parameters (SQLite: 999); everything else is the same number of queries.
    assert counted[200][0] == counted[20][0] < 15
    assert counted[20][1] == 1
    assert counted[200][1] <= math.ceil(200 / 50)
    if connection.vendor == "postgresql":
        assert counted[200][1] == 1
