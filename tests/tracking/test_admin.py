"""Staff see the ESP's events and why a contact is suppressed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase.models import Contact, MessageEvent

from .conftest import sent_message

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")


def test_event_list_counts_the_unmatched_and_is_read_only(admin_client, post):
    message = sent_message()
    post("postmark", "bounced", message)
    post("postmark", "delivered", recipient="other@example.com", metadata={})
    url = reverse("admin:postpurchase_messageevent_changelist")
    page = admin_client.get(url).content.decode()
    assert "No (1)" in page
    unmatched = admin_client.get(url, {"matched": "no"}).content.decode()
    assert "other@example.com" in unmatched and message.to_email not in unmatched
    event = MessageEvent.objects.get(message=message)
    change = reverse("admin:postpurchase_messageevent_change", args=[event.pk])
    assert admin_client.post(change, {"kind": "opened"}).status_code == 403
    assert admin_client.get(reverse("admin:postpurchase_messageevent_add")).status_code == 403


def test_message_page_shows_its_events(admin_client, post):
    message = sent_message()
    post("mailgun", "clicked", message)
    page = admin_client.get(
        reverse("admin:postpurchase_message_change", args=[message.pk])
    ).content.decode()
    assert "Clicked" in page and "https://shop.example.com/product/backpack" in page


def test_contact_page_shows_why_and_when_and_staff_can_lift_it(admin_client, post):
    message = sent_message()
    post("brevo", "complained", message)
    contact = Contact.objects.get(pk=message.contact_id)
    page = admin_client.get(
        reverse("admin:postpurchase_contact_change", args=[contact.pk])
    ).content.decode()
    assert "Spam complaint reported by the ESP" in page
    response = admin_client.post(
        reverse("admin:postpurchase_contact_changelist"),
        {"action": "lift_suppression", "_selected_action": [contact.pk]},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.suppressed_at, contact.suppression_reason) == (None, "")
    assert contact.accepts("transactional")


def test_deleting_a_contact_in_the_admin_deletes_what_the_esp_said_about_its_mail(
    admin_client, post
):
    # An erasure request: the events carry the address, IP and user agent.
    message = sent_message()
    post("mailgun", "clicked", message)
    contact = Contact.objects.get(pk=message.contact_id)
    response = admin_client.post(
        reverse("admin:postpurchase_contact_delete", args=[contact.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not MessageEvent.objects.filter(recipient=message.to_email).exists()


def test_staff_see_who_made_each_open_and_click(admin_client, post):
    message = sent_message()
    post("sendgrid", "machine", message)
    post("sendgrid", "opened", message, event_id="sg-event-2")
    url = reverse("admin:postpurchase_messageevent_changelist")
    page = admin_client.get(url).content.decode()
    assert "a machine: the ESP marked it as a machine" in page
    assert "a person" in page
    machine_only = admin_client.get(url, {"machine__exact": "1"}).content.decode()
    assert "a person" not in machine_only
    change = reverse("admin:postpurchase_message_change", args=[message.pk])
    assert "a machine: the ESP marked it as a machine" in admin_client.get(change).content.decode()
