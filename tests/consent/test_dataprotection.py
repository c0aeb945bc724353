"""Export everything about a contact (JSON) and erase a contact: from the admin
(permission-checked) and a command, and an erased address never mailed by mistake."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from anymail.signals import AnymailTrackingEvent, EventType
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from postpurchase import signals
from postpurchase.coupons import issue_coupon, redeem_coupon
from postpurchase.dataprotection import suppression
from postpurchase.dataprotection.erase import erase_contact
from postpurchase.dataprotection.export import export_contact
from postpurchase.models import (
    ConsentRecord,
    Contact,
    Coupon,
    CouponPolicy,
    Enrollment,
    ErasedAddress,
    Event,
    Message,
    MessageEvent,
    NPSResponse,
    PurchasedProduct,
)
from postpurchase.nps import record_answer
from postpurchase.public.unsubscribe import unsubscribe
from postpurchase.testing.factories import (
    ContactFactory,
    ConversionFactory,
    EmailStepFactory,
    EnrollmentFactory,
    MessageFactory,
)
from postpurchase.tracking.record import record_many
from tests.core.helpers import run_due

from .helpers import order, outcome, two_flows

pytestmark = pytest.mark.django_db

ADDRESS = "anna@example.com"


@pytest.fixture
def customer(frozen):
    """A contact with something of every kind: events, enrollments, messages and their
    ESP events, a coupon and its redemption, an NPS answer, consent history."""
    two_flows()
    order()
    contact = Contact.objects.get(email=ADDRESS)
    message = contact.messages.filter(category="marketing").get()
    MessageEvent.objects.create(
        esp="test", event_id="e-1", kind="opened", occurred_at=frozen.now, message=message
    )
    MessageEvent.objects.create(  # names no email of ours, but was addressed to them
        esp="test", event_id="e-2", kind="bounced", occurred_at=frozen.now, recipient=ADDRESS
    )
    policy = CouponPolicy.objects.create(
        name="10%", kind="percent", percent=Decimal("10"), validity_days=30, code_prefix="T-"
    )
    coupon = issue_coupon(policy, contact, message=message)
    redeem_coupon(coupon.code, ADDRESS, "shop.order:2000", Decimal("5000"))
    record_answer(message, 4, "Too slow", review_opt_in=True)
    unsubscribe(contact)
    return contact


def test_the_export_holds_everything_about_the_contact(customer):
    other = ContactFactory(email="ivan@example.com")
    EnrollmentFactory(contact=other, flow=EmailStepFactory().flow)
    data = export_contact(customer)
    json.dumps(data)  # JSON-safe
    assert data["contact"]["email"] == ADDRESS
    assert len(data["events"]) == Event.objects.filter(contact=customer).count() >= 2
    assert {e["contact_id"] for e in data["events"]} == {customer.pk}
    assert len(data["enrollments"]) == 2  # one per flow; the other contact's is left out
    assert len(data["messages"]) == 2
    assert {e["event_id"] for e in data["message_events"]} == {"e-1", "e-2"}
    assert [c["code"] for c in data["coupons"]] == [Coupon.objects.get().code]
    assert len(data["coupon_redemptions"]) == 1
    [answer] = data["nps_responses"]
    assert (answer["score"], answer["comment"], answer["review_opt_in"]) == (4, "Too slow", True)
    assert [r["state"] for r in data["consent_history"]] == ["soft_opt_in", "withdrawn"]
    assert {c["purpose"]: c["state"] for c in data["consent"]} == {"marketing": "withdrawn"}
    assert "lease_token" not in data["enrollments"][0]


def test_the_export_holds_what_was_learnt_from_the_contacts_orders(customer):
    """The products bought (replenishment predictions) and the orders attributed to the
    contact's emails are theirs too; another contact's are left out."""
    message = customer.messages.filter(category="marketing").get()
    PurchasedProduct.objects.create(
        contact=customer, sku="TEA-1", name="Green tea", last_ordered_at=message.created_at
    )
    ConversionFactory(message=message, key="order:shop.order:2000")
    other = MessageFactory(contact=ContactFactory(email="ivan@example.com"))
    PurchasedProduct.objects.create(
        contact=other.contact, sku="TEA-2", name="Black tea", last_ordered_at=other.created_at
    )
    ConversionFactory(message=other, key="order:shop.order:3000")
    data = export_contact(customer)
    assert [(p["sku"], p["name"]) for p in data["purchased_products"]] == [("TEA-1", "Green tea")]
    assert [c["order_ref"] for c in data["conversions"]] == ["shop.order:2000"]


def test_erasing_deletes_everything_and_keeps_only_a_hash(
    customer, django_capture_on_commit_callbacks
):
    heard = []
    signals.contact_erased.connect(
        lambda sender, **kw: heard.append(kw), weak=False, dispatch_uid="t-erased"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = erase_contact(customer)
    finally:
        signals.contact_erased.disconnect(dispatch_uid="t-erased")
    for model in (Contact, Event, Enrollment, Message, MessageEvent, Coupon, NPSResponse):
        assert not model.objects.exists(), model
    assert not ConsentRecord.objects.exists()
    [erased] = ErasedAddress.objects.all()
    assert erased.digest == result["digest"] == suppression.address_digest(ADDRESS)
    assert ADDRESS not in erased.digest and len(erased.digest) == 64
    assert result["deleted"]["postpurchase.MessageEvent"] == 2
    [kwargs] = heard
    assert kwargs["contact_id"] == customer.pk and kwargs["digest"] == erased.digest


def test_the_hash_is_keyed_and_normalized(settings):
    assert suppression.address_digest(" Anna@Example.com ") == suppression.address_digest(ADDRESS)
    before = suppression.address_digest(ADDRESS)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert suppression.address_digest(ADDRESS) != before


def test_an_erased_address_is_not_mailed_again(customer):
    erase_contact(customer)
    service, offer = two_flows()
    mail.outbox = []
    order(number="1002")
    contact = Contact.objects.get(email=ADDRESS)  # a new contact, blocked
    assert (contact.suppression_reason, contact.suppressed_at is not None) == ("erased", True)
    assert not Enrollment.objects.filter(contact=contact).exists()
    assert mail.outbox == []


def test_an_erased_address_added_another_way_is_refused_at_send_time(frozen):
    suppression.add(ADDRESS)
    contact = ContactFactory(email=ADDRESS)  # e.g. by staff: not through upsert_contact
    step = EmailStepFactory(category="transactional")
    EnrollmentFactory(flow=step.flow, contact=contact)
    run_due()
    assert outcome(step) == [("suppressed", "erased")]
    assert mail.outbox == []


def test_staff_lift_the_block(customer):
    erase_contact(customer)
    order(number="1002")
    contact = Contact.objects.get(email=ADDRESS)
    assert suppression.lift(contact)
    contact.refresh_from_db()
    assert (contact.suppressed_at, contact.suppression_reason) == (None, "")
    assert not ErasedAddress.objects.exists()
    service, offer = two_flows()
    order(number="1003")
    assert outcome(service) == [("sent", "")]


# --- the admin -----------------------------------------------------------------------


def run_action(client, action: str, contact: Contact, **extra):
    return client.post(
        "/admin/postpurchase/contact/",
        {"action": action, "_selected_action": [contact.pk], **extra},
    )


def test_the_admin_export_needs_its_permission(customer, client):
    client.force_login(staff_user("clerk"))
    response = run_action(client, "export_contact_data", customer)
    assert response.status_code in (200, 302)
    assert response.get("Content-Type", "").startswith("text/html")  # no such action for them
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    response = run_action(client, "export_contact_data", customer)
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["contact"]["email"] == ADDRESS


def test_the_admin_erase_asks_first_and_needs_its_permission(customer, client):
    client.force_login(staff_user("clerk"))
    run_action(client, "erase_contacts", customer, confirm="yes")
    assert Contact.objects.filter(pk=customer.pk).exists()  # not allowed
    client.force_login(staff_user("eraser", "erase_contact"))
    page = run_action(client, "erase_contacts", customer)
    assert page.status_code == 200 and b"cannot be undone" in page.content
    assert Contact.objects.filter(pk=customer.pk).exists()  # only asked
    run_action(client, "erase_contacts", customer, confirm="yes")
    assert not Contact.objects.filter(pk=customer.pk).exists()
    assert ErasedAddress.objects.count() == 1


def staff_user(name: str, *codenames: str) -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True)
    perms = Permission.objects.filter(
        content_type__app_label="postpurchase",
        codename__in=["view_contact", "change_contact", *codenames],
    )
    user.user_permissions.add(*perms)
    return user


def test_the_contact_page_shows_the_consent_history(customer, client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    page = client.get(f"/admin/postpurchase/contact/{customer.pk}/change/").content.decode()
    assert "Soft opt-in (existing customer)" in page and "Unsubscribe link" in page


# --- the command ----------------------------------------------------------------------


def test_the_command_exports_to_stdout_and_to_a_file(customer, tmp_path):
    out = StringIO()
    call_command("postpurchase_contact_data", "export", "Anna@Example.com", stdout=out)
    assert json.loads(out.getvalue())["contact"]["id"] == customer.pk
    target = tmp_path / "anna.json"
    call_command("postpurchase_contact_data", "export", ADDRESS, "-o", str(target), stdout=out)
    assert json.loads(target.read_text())["contact"]["email"] == ADDRESS


def test_the_command_erases_and_lifts(customer):
    out = StringIO()
    call_command("postpurchase_contact_data", "erase", ADDRESS, "--yes", stdout=out)
    assert "erased" in out.getvalue()
    assert not Contact.objects.exists() and ErasedAddress.objects.count() == 1
    call_command("postpurchase_contact_data", "lift", ADDRESS, stdout=out)
    assert not ErasedAddress.objects.exists()


def test_the_command_refuses_unknown_and_bad_addresses(db):
    with pytest.raises(CommandError, match="No contact"):
        call_command("postpurchase_contact_data", "export", "nobody@example.com")
    with pytest.raises(CommandError, match="not an email"):
        call_command("postpurchase_contact_data", "erase", "nonsense", "--yes")


def test_erasing_leaves_no_address_in_the_admin_history(customer, client):
    """The admin history names a changed object by its str() (a contact's, a message's
    and an enrollment's hold the address): erasing keeps the entries, not the address."""
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    run_action(client, "export_contact_data", customer)
    message = customer.messages.first()
    enrollment = customer.enrollments.first()
    for obj in (message, enrollment):
        LogEntry.objects.log_actions(
            user_id=User.objects.get().pk, queryset=[obj], action_flag=CHANGE, change_message="x"
        )
    run_action(client, "erase_contacts", customer, confirm="yes")
    assert not Contact.objects.exists()
    entries = LogEntry.objects.all()
    assert entries.count() >= 3
    for entry in entries:
        assert ADDRESS not in entry.object_repr
        assert ADDRESS not in entry.change_message


def test_an_esp_event_arriving_after_the_erasure_keeps_no_address(customer):
    """The ESP reports late (an open weeks after sending, a bounce retried): the email it
    names is gone with the contact, and the address must not come back with it."""
    message_id = str(customer.messages.first().pk)
    erase_contact(customer)
    event = AnymailTrackingEvent(
        event_type=EventType.OPENED,
        timestamp=timezone.now(),
        event_id="late-1",
        message_id=message_id,
        recipient=ADDRESS.upper(),
        user_agent="Mozilla/5.0",
        esp_event={"email": ADDRESS, "ip": "203.0.113.9", "sg_message_id": message_id},
    )
    record_many([(event, "sendgrid")])
    record_many([(event, "sendgrid")])  # posted again: still one row
    [row] = MessageEvent.objects.all()
    assert row.event_id == "late-1" and row.message_id is None
    assert ADDRESS not in json.dumps(row.raw).lower()
    assert ADDRESS not in row.recipient.lower()
    assert row.ip is None and row.user_agent == ""


def contact_form(client, contact: Contact) -> tuple[str, dict]:
    """The contact's change page and the POST its form sends as it stands."""
    url = f"/admin/postpurchase/contact/{contact.pk}/change/"
    response = client.get(url)
    data = {}
    for bound in response.context["adminform"].form:
        value = bound.value()
        if value is not None:
            data[bound.html_name] = value
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(inline.formset.initial_form_count())
        data[f"{prefix}-INITIAL_FORMS"] = str(inline.formset.initial_form_count())
        for form in inline.formset.forms:
            data[f"{form.prefix}-id"] = form.instance.pk
            data[f"{form.prefix}-contact"] = contact.pk
    return url, data


def test_staff_editing_the_frequency_or_unsubscribe_is_recorded_as_consent(
    frozen, client, settings
):
    """A customer who chose "only order updates" on the phone to staff, or asked to be
    mailed again: the contact's page changes it, and the consent history says so (and
    who: the admin). A changed frequency that is not recorded would look like the
    customer's own choice being ignored."""
    contact = ContactFactory(email=ADDRESS, email_frequency="orders_only")
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    url, data = contact_form(client, contact)
    response = client.post(
        url,
        {
            **data,
            "email_frequency": "all",
            "unsubscribed_at_0": "2026-01-01",
            "unsubscribed_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact.refresh_from_db()
    assert contact.email_frequency == "all" and contact.unsubscribed_at is not None
    history = [
        (r.purpose, r.state, r.frequency, r.source)
        for r in ConsentRecord.objects.order_by("pk").exclude(source="checkout")
    ]
    assert history == [
        ("frequency", "", "all", "admin"),
        ("marketing", "withdrawn", "", "admin"),
    ]
    url, data = contact_form(client, contact)
    data = {k: v for k, v in data.items() if not k.startswith("unsubscribed_at")}
    assert client.post(url, data).status_code == 302
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None
    assert ConsentRecord.objects.order_by("pk").last().state == "granted"
