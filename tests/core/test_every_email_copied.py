"""Every email the app sends is in MAIL_DIR and visible in the admin: customers' emails
(Messages), staff notifications (the enrollment's step records) and test sends from
the admin (the flow's history)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse

from postpurchase.models import EmailStep, Enrollment
from postpurchase.testing.factories import (
    ContactFactory,
    EnrollmentFactory,
    NotifyStaffStepFactory,
)

from .helpers import run_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_dir(settings, tmp_path):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MAIL_DIR": tmp_path}
    return tmp_path


def copies(folder, suffix: str) -> list[str]:
    return sorted(p.read_text(encoding="utf-8") for p in folder.glob(f"*{suffix}"))


def test_a_staff_notification_is_copied_to_the_mail_dir(frozen, mail_dir):
    step = NotifyStaffStepFactory(
        recipients="team@example.com", subject="Unhappy customer {{ order.number }}"
    )
    EnrollmentFactory(flow=step.flow, contact=ContactFactory(email="o@example.com"))
    run_due()
    [email] = mail.outbox
    [text] = copies(mail_dir, ".txt")
    assert text.startswith("To: team@example.com\nSubject: Unhappy customer 1001\n\n")
    assert email.body in text


def test_a_staff_notification_is_shown_on_its_enrollments_admin_page(frozen, admin_client):
    step = NotifyStaffStepFactory(
        recipients="team@example.com", subject="Unhappy customer {{ order.number }}"
    )
    enrollment = EnrollmentFactory(flow=step.flow)
    run_due()
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.COMPLETED
    page = admin_client.get(reverse("admin:postpurchase_enrollment_change", args=[enrollment.pk]))
    assert page.status_code == 200
    assert "Unhappy customer 1001" in page.text
    assert "team@example.com" in page.text


@pytest.fixture
def thank_you(default_flow):
    return EmailStep.objects.filter(flow=default_flow).order_by("position").first()


def send_test_from_the_admin(admin_client, step):
    url = reverse("admin:postpurchase_flow_preview", args=[step.pk])
    assert admin_client.post(url, {"language": "en"}).status_code == 302


def test_a_test_send_is_copied_to_the_mail_dir(admin_client, admin_user, thank_you, mail_dir):
    send_test_from_the_admin(admin_client, thank_you)
    [email] = mail.outbox
    [text] = copies(mail_dir, ".txt")
    assert text.startswith(f"To: {admin_user.email}\nSubject: {email.subject}\n\n")
    assert email.subject.startswith("[TEST] ")
    [html] = copies(mail_dir, ".html")
    assert html == email.alternatives[0][0]


def test_a_test_send_is_in_the_flows_history(admin_client, admin_user, thank_you):
    send_test_from_the_admin(admin_client, thank_you)
    history = reverse("admin:postpurchase_flow_history", args=[thank_you.flow_id])
    page = admin_client.get(history)
    assert f"Sent a test of the email step “{thank_you}” (en)." in page.text
    assert LogEntry.objects.get().user == admin_user
