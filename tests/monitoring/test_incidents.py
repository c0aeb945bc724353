"""Incidents: opened once with a signal and one staff email, updated while the rule
keeps firing, resolved when healthy again; the periodic job runs it all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import periodic, signals
from postpurchase.models import Incident, Message
from postpurchase.monitoring import incidents, run_health_checks

from .conftest import emails, orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def checks(django_capture_on_commit_callbacks):
    """run_health_checks(), then the after-commit callbacks (the signals) it left."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return run_health_checks()

    return run


@pytest.fixture
def heard():
    got: list[tuple[str, Incident]] = []

    def alert(sender, incident, **kwargs):
        got.append(("alert", incident))

    def resolved(sender, incident, **kwargs):
        got.append(("resolved", incident))

    signals.health_alert.connect(alert)
    signals.health_resolved.connect(resolved)
    yield got
    signals.health_alert.disconnect(alert)
    signals.health_resolved.disconnect(resolved)


def test_all_well_opens_nothing_and_mails_nobody(frozen, thank_you, heard, checks):
    orders(10, minutes_ago=30, flow=thank_you)
    assert checks() == 0
    assert Incident.objects.count() == 0
    assert mail.outbox == [] and heard == []


def test_one_incident_one_signal_one_mail_while_it_lasts(frozen, thank_you, heard, checks):
    orders(5)
    assert checks() == 1
    frozen.advance(timedelta(minutes=5))
    orders(2)
    assert checks() == 1
    [incident] = Incident.objects.all()
    assert incident.kind == Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS
    assert incident.resolved_at is None
    assert incident.last_seen_at > incident.opened_at
    assert incident.details["orders"] == 7  # the latest check's figures
    assert [kind for kind, _ in heard] == ["alert"]
    [message] = mail.outbox
    assert message.to == ["team@example.com"]
    assert "Orders but no enrollments" in message.subject
    assert "Orders in the last 60 min.: 5" in message.body
    assert f"/admin/postpurchase/incident/{incident.pk}/" in message.body


def test_resolved_when_healthy_again_and_a_new_incident_mails_again(
    frozen, thank_you, heard, checks
):
    orders(5)
    checks()
    frozen.advance(timedelta(minutes=61))  # those orders leave the window
    assert checks() == 0
    [incident] = Incident.objects.all()
    assert incident.resolved_at is not None
    assert [kind for kind, _ in heard] == ["alert", "resolved"]
    assert len(mail.outbox) == 1  # resolving mails nobody
    orders(5)
    checks()
    assert Incident.objects.filter(resolved_at__isnull=True).count() == 1
    assert Incident.objects.count() == 2
    assert len(mail.outbox) == 2


def test_each_kind_is_its_own_incident(frozen, thank_you):
    orders(5)
    emails(17)
    emails(3, status=Message.Status.FAILED)
    run_health_checks()
    assert set(Incident.objects.values_list("kind", flat=True)) == {
        Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS,
        Incident.Kind.FAILURE_RATE,
    }
    assert len(mail.outbox) == 2
    Message.objects.update(status=Message.Status.SENT)
    run_health_checks()
    assert list(
        Incident.objects.filter(resolved_at__isnull=True).values_list("kind", flat=True)
    ) == [Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS]


def test_a_failed_staff_email_is_tried_again_at_the_next_check(frozen, thank_you, monkeypatch):
    orders(5)
    calls = []

    def broken(self, fail_silently=False):
        calls.append(self.subject)
        raise ConnectionError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    run_health_checks()
    [incident] = Incident.objects.all()
    assert incident.notified_at is None and len(calls) == 1
    monkeypatch.undo()
    run_health_checks()
    incident.refresh_from_db()
    assert incident.notified_at is not None
    assert len(mail.outbox) == 1
    run_health_checks()
    assert len(mail.outbox) == 1


def test_without_staff_addresses_the_admins_get_it(frozen, thank_you, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": []}
    settings.ADMINS = [("Ops", "ops@example.com")]
    orders(5)
    run_health_checks()
    assert mail.outbox[0].to == ["ops@example.com"]


def test_with_nobody_to_mail_the_incident_stays_unmailed_and_logged(
    frozen, thank_you, settings, caplog
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": []}
    settings.ADMINS = []
    orders(5)
    run_health_checks()
    [incident] = Incident.objects.all()
    assert incident.notified_at is None and mail.outbox == []
    assert "no STAFF_EMAILS or ADMINS" in caplog.text


def test_an_incident_opened_by_another_scheduler_is_not_opened_twice(frozen, thank_you):
    orders(5)
    run_health_checks()
    # A second scheduler that read "no open incident" before the first one committed.
    finding = incidents.Finding(Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS, {})
    assert incidents._open(finding, frozen.now) is None
    assert Incident.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_periodic_job_runs_the_checks(frozen, thank_you):
    orders(5, minutes_ago=20, flow=thank_you, sent=False)
    assert periodic.job("health checks").run() == 1
    assert Incident.objects.get().kind == Incident.Kind.ENROLLMENTS_WITHOUT_SENDS


def test_the_staff_email_is_copied_to_the_mail_dir(frozen, thank_you, settings, tmp_path):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAIL_DIR": tmp_path}
    orders(5)
    run_health_checks()
    [copy] = tmp_path.glob("*-health-*.txt")
    text = copy.read_text(encoding="utf-8")
    assert text.startswith("To: team@example.com\nSubject: ")
    assert mail.outbox[0].body in text


def test_the_staff_email_is_in_the_sites_language(frozen, thank_you, settings):
    settings.LANGUAGE_CODE = "ru"
    orders(5)
    run_health_checks()
    [message] = mail.outbox
    assert "Заказы есть, участников цепочек нет" in message.subject
    assert "Заказов за последние 60 мин.: 5" in message.body


def test_a_flapping_rule_mails_staff_at_most_once_per_window(frozen, thank_you, heard, checks):
    """Around a minimum (5 orders, then 4, then 5 again) a rule opens and resolves at
    every check: staff get one email about it per WINDOW_MINUTES, not one per flap."""
    placed = orders(5)
    checks()
    for _ in range(3):
        frozen.advance(timedelta(minutes=5))
        placed[0].delete()
        assert checks() == 0  # 4 orders: resolved
        frozen.advance(timedelta(minutes=5))
        placed = [*placed[1:], *orders(1, minutes_ago=1)]
        assert checks() == 1  # 5 again: a new incident
    assert Incident.objects.count() == 4
    assert [kind for kind, _ in heard].count("alert") == 4  # every incident is signalled
    assert len(mail.outbox) == 1
    # Still open once the window has passed since the last email: that one is mailed.
    frozen.advance(timedelta(minutes=31))
    orders(5, minutes_ago=1)
    assert checks() == 1
    assert len(mail.outbox) == 2
    assert Incident.objects.filter(notified_at__isnull=True).count() == 2  # resolved unmailed
