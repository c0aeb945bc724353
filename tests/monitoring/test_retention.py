"""Retention: old MessageEvents and Events are purged in bounded batches by primary-key
range; recent rows, Messages (the reports' roll-ups) and the events running
enrollments read are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase import clock, periodic
from postpurchase.models import Enrollment, Event, Message, MessageEvent
from postpurchase.retention import UNLINK, purge_expired
from postpurchase.testing.factories import (
    ContactFactory,
    EnrollmentFactory,
    EventFactory,
    MessageEventFactory,
    MessageFactory,
)

pytestmark = pytest.mark.django_db


def days_ago(days: float):
    return clock.now() - timedelta(days=days)


@pytest.fixture
def retention(settings):
    def set_(**values):
        settings.POSTPURCHASE = {**settings.POSTPURCHASE, "RETENTION": values}

    return set_


def test_old_message_events_go_recent_ones_and_the_messages_stay(frozen):
    message = MessageFactory(opens=3, delivered_at=days_ago(200))
    old = [MessageEventFactory(message=message, occurred_at=days_ago(181)) for _ in range(3)]
    recent = MessageEventFactory(message=message, occurred_at=days_ago(179))
    assert purge_expired() == 3
    assert list(MessageEvent.objects.all()) == [recent]
    assert not MessageEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    message.refresh_from_db()
    assert message.opens == 3 and message.delivered_at == days_ago(200)  # roll-ups survive


def test_old_events_go_unless_a_running_enrollment_of_their_contact_may_read_them(frozen):
    done, running = ContactFactory(), ContactFactory()
    old_done = EventFactory(contact=done, occurred_at=days_ago(731))
    enrollment = EnrollmentFactory(
        contact=done, trigger_event=old_done, status=Enrollment.Status.COMPLETED
    )
    old_running = EventFactory(contact=running, occurred_at=days_ago(800))
    EnrollmentFactory(contact=running, trigger_event=old_running)
    recent = EventFactory(contact=done, occurred_at=days_ago(729))
    assert purge_expired() == 1
    assert set(Event.objects.all()) == {old_running, recent}
    enrollment.refresh_from_db()
    assert enrollment.trigger_event is None  # a finished enrollment stays, unlinked


def test_a_run_is_bounded_and_the_next_run_goes_on(frozen, retention):
    retention(BATCH_SIZE=3, MAX_BATCHES=2)
    message = MessageFactory()
    for _ in range(10):
        MessageEventFactory(message=message, occurred_at=days_ago(365))
    assert purge_expired() == 6
    assert purge_expired() == 4
    assert purge_expired() == 0  # idempotent: nothing left, nothing more happens
    assert MessageEvent.objects.count() == 0
    assert Message.objects.count() == 1


def test_each_delete_is_one_bounded_primary_key_range(frozen, retention):
    retention(BATCH_SIZE=4, MAX_BATCHES=3)
    message = MessageFactory()
    events = [MessageEventFactory(message=message, occurred_at=days_ago(365)) for _ in range(9)]
    with CaptureQueriesContext(connection) as queries:
        purge_expired()
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    for sql in deletes:
        assert "BETWEEN" in sql or ">=" in sql, sql
    assert MessageEvent.objects.count() == 0
    assert len(events) == 9


def test_none_keeps_forever(frozen, retention):
    retention(MESSAGE_EVENTS_DAYS=None, EVENTS_DAYS=None)
    MessageEventFactory(occurred_at=days_ago(5000))
    EventFactory(occurred_at=days_ago(5000))
    assert purge_expired() == 0
    assert MessageEvent.objects.count() == 1 and Event.objects.count() == 1


def test_the_days_are_settings(frozen, retention):
    retention(MESSAGE_EVENTS_DAYS=7, EVENTS_DAYS=30)
    MessageEventFactory(occurred_at=days_ago(8))
    EventFactory(occurred_at=days_ago(31))
    EventFactory(occurred_at=days_ago(29))
    assert purge_expired() == 2


def test_the_periodic_job_purges(frozen):
    MessageEventFactory(occurred_at=days_ago(400))
    assert periodic.job("purge expired events").run() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_batches_by_range_keep_what_they_must(frozen, retention):
    retention(BATCH_SIZE=50, MAX_BATCHES=3)
    message = MessageFactory()
    MessageEvent.objects.bulk_create(
        [
            MessageEventFactory.build(message=message, occurred_at=days_ago(200 if i % 2 else 10))
            for i in range(400)
        ]
    )
    assert purge_expired() == 150
    assert purge_expired() == 50
    assert purge_expired() == 0
    assert MessageEvent.objects.count() == 200
    assert not MessageEvent.objects.filter(occurred_at__lt=days_ago(180)).exists()


def test_the_purge_knows_every_reference_to_what_it_deletes():
    """A new foreign key to Event or MessageEvent must be handled in retention.UNLINK
    (the purge deletes without loading rows, so Django's on_delete does not run)."""
    for model, unlink in UNLINK.items():
        pointing = {(r.related_model, r.field.name) for r in model._meta.related_objects}
        assert pointing == set(unlink), model


def test_old_messages_lose_their_address_and_subject_but_keep_their_figures(frozen, retention):
    retention(MESSAGE_ADDRESSES_DAYS=365)
    old = MessageFactory(
        subject="Anna, thank you", opens=2, created_at=days_ago(400), sent_at=days_ago(400)
    )
    Enrollment.objects.filter(pk=old.enrollment_id).update(status=Enrollment.Status.COMPLETED)
    recent = MessageFactory(subject="Anna, a tip", created_at=days_ago(300))
    running = MessageFactory(subject="Anna, still going", created_at=days_ago(400))
    assert purge_expired() == 1
    old.refresh_from_db()
    assert (old.to_email, old.subject, old.opens, old.status) == ("", "", 2, "sent")
    recent.refresh_from_db()
    running.refresh_from_db()  # its enrollment is active: it may still be resent
    assert recent.to_email and recent.subject == "Anna, a tip"
    assert running.to_email and running.subject == "Anna, still going"
    assert purge_expired() == 0  # nothing left to blank


def test_message_addresses_are_kept_by_default(frozen):
    message = MessageFactory(created_at=days_ago(5000))
    Enrollment.objects.filter(pk=message.enrollment_id).update(status=Enrollment.Status.COMPLETED)
    purge_expired()
    message.refresh_from_db()
    assert message.to_email
