"""Admin pages a shop's staff use before the full editor arrives."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase import engine
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    enrollment = EnrollmentFactory(flow=flow, contact__first_name="Анна <b>")
    engine.run_due()
    return Message.objects.get(enrollment=enrollment)


@pytest.mark.parametrize(
    "name", ["flow", "emailtemplate", "contact", "event", "enrollment", "message"]
)
def test_list_pages_load(admin_client, sent, name):
    response = admin_client.get(reverse(f"admin:postpurchase_{name}_changelist"))
    assert response.status_code == 200


def test_flow_page_shows_step_inlines(admin_client, sent):
    flow = sent.enrollment.flow
    response = admin_client.get(reverse("admin:postpurchase_flow_change", args=[flow.pk]))
    assert response.status_code == 200
    assert b"Email" in response.content and b"Delay" in response.content


def test_message_page_shows_the_rendered_email(admin_client, sent):
    response = admin_client.get(reverse("admin:postpurchase_message_change", args=[sent.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<iframe sandbox" in body
    assert "Hello Анна &amp;lt;b&amp;gt;!" in body  # escaped in the email, then in srcdoc
    assert "Plain-text part" in body


def test_retry_action_needs_change_permission(client, django_user_model, sent):
    enrollment = sent.enrollment
    Enrollment.objects.filter(pk=enrollment.pk).update(status="failed")
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_enrollment"))
    client.force_login(viewer)
    url = reverse("admin:postpurchase_enrollment_changelist")
    response = client.post(url, {"action": "retry_selected", "_selected_action": [enrollment.pk]})
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    assert response.status_code in (200, 302, 403)


def test_retry_action(admin_client, sent):
    enrollment = sent.enrollment
    Enrollment.objects.filter(pk=enrollment.pk).update(status="failed")
    admin_client.post(
        reverse("admin:postpurchase_enrollment_changelist"),
        {"action": "retry_selected", "_selected_action": [enrollment.pk]},
    )
    enrollment.refresh_from_db()
    assert enrollment.status in ("active", "completed")


def test_jump_targets_offer_only_this_flows_steps(admin_client):
    from postpurchase.testing.factories import ConditionStepFactory

    flow = FlowFactory()
    mine = EmailStepFactory(flow=flow, position=1, name="mine")
    ConditionStepFactory(flow=flow, position=2)
    other = EmailStepFactory(flow=FlowFactory(), name="theirs")
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[flow.pk]))
    body = page.content.decode()
    assert f'<option value="{mine.pk}">' in body
    assert f'<option value="{other.pk}">' not in body
