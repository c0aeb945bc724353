"""Previewing email steps and sending tests from the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from postpurchase.email.previews import SAMPLE_ORDER, preview_step
from postpurchase.models import EmailStep, Message

from .helpers import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def thank_you(default_flow):
    return EmailStep.objects.filter(flow=default_flow).order_by("position").first()


def url(step, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("admin:postpurchase_flow_preview", args=[step.pk]) + (
        f"?{query}" if query else ""
    )


def test_preview_uses_a_sample_order_until_a_real_one_exists(thank_you):
    assert SAMPLE_ORDER["number"] in preview_step(thank_you, "en").subject
    place(number="7777", first_name="Olena")
    rendered = preview_step(thank_you, "uk")
    assert "7777" in rendered.subject and "Olena" in rendered.subject
    assert rendered.language == "uk"


@pytest.mark.parametrize("language", ["en", "ru", "uk"])
@pytest.mark.parametrize("width, px", [("desktop", 680), ("mobile", 375)])
def test_admin_preview_page(admin_client, thank_you, language, width, px):
    response = admin_client.get(url(thank_you, language=language, width=width))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="pp-preview"' in body and f"width: {px}px" in body
    assert 'id="pp-subject"' in body and 'id="pp-text"' in body
    assert f"<strong>{language}</strong>" in body


def test_flow_page_links_each_email_step_to_its_preview(admin_client, default_flow, thank_you):
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[default_flow.pk]))
    assert url(thank_you).encode() in page.content


def test_send_test_goes_to_the_staff_user_and_is_not_counted(admin_client, admin_user, thank_you):
    response = admin_client.post(url(thank_you), {"language": "ru"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [admin_user.email]
    assert sent.subject.startswith("[TEST] ")
    assert sent.extra_headers["X-Postpurchase-Test"] == "1"
    assert Message.objects.count() == 0


def test_send_test_needs_change_permission(client, django_user_model, thank_you):
    user = django_user_model.objects.create_user(
        "viewer", email="v@example.com", password="pw", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_flow"))
    client.force_login(user)
    assert client.get(url(thank_you)).status_code == 200
    assert client.post(url(thank_you), {"language": "en"}).status_code == 403
    assert mail.outbox == []


def test_preview_of_a_broken_template_shows_the_error(admin_client, thank_you):
    content = thank_you.template.contents.get(language="en")
    content.body = "{% if %}"
    content.save()
    response = admin_client.get(url(thank_you, language="en"))
    assert response.status_code == 200
    assert b"errornote" in response.content and b"Template error" in response.content


def test_a_real_order_in_the_flow_preview_needs_the_permission_to_view_events(
    client, django_user_model, thank_you
):
    """The preview and the test email show the flow's latest real order (a customer's
    name, address, purchases) only to staff who may view events; others see the
    sample order."""
    place(number="7777", first_name="Olena")
    user = django_user_model.objects.create_user(
        "clerk", password="pw", is_staff=True, email="clerk@example.com"
    )
    for codename in ("view_flow", "change_flow"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    page = client.get(url(thank_you, language="en")).content.decode()
    assert "Olena" not in page and SAMPLE_ORDER["number"] in page
    mail.outbox.clear()
    client.post(url(thank_you), {"language": "en"})
    [test] = mail.outbox
    assert "Olena" not in test.subject + test.body and SAMPLE_ORDER["number"] in test.subject

    user.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    assert "Olena" in client.get(url(thank_you, language="en")).content.decode()
