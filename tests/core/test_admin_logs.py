"""Logs in the admin are read-only: viewed, filtered, searched and exported, never added,
edited or deleted by hand; the actions that change them write the admin's history."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.forms.models import model_to_dict
from django.urls import reverse

from postpurchase import clock
from postpurchase.admin.logs import csv_response
from postpurchase.coupons import issue_coupon
from postpurchase.models import (
    Contact,
    CouponPolicy,
    CouponRedemption,
    Enrollment,
    Event,
    Message,
    NPSResponse,
)
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
)

pytestmark = pytest.mark.django_db

LOGS = {
    "message": Message,
    "event": Event,
    "enrollment": Enrollment,
    "npsresponse": NPSResponse,
    "couponredemption": CouponRedemption,
}


@pytest.fixture
def logs(frozen):
    """Two customers, each in their own flow, with a row in every log."""
    policy = CouponPolicy.objects.create(
        name="10%", kind=CouponPolicy.Kind.PERCENT, percent=Decimal("10"), validity_days=30
    )
    made = []
    for i, email in enumerate(["ann@example.com", "bob@example.com"]):
        flow = FlowFactory(name=f"flow {i}")
        step = EmailStepFactory(flow=flow)
        contact = ContactFactory(email=email)
        enrollment = EnrollmentFactory(flow=flow, contact=contact, order_ref=f"o:{i}")
        EventFactory(contact=contact, ref=f"o:{i}", order_ref=f"o:{i}")
        message = Message.objects.create(
            enrollment=enrollment,
            step=step,
            contact=contact,
            to_email=email,
            subject=f"Hello {i}",
            category="marketing",
            status=Message.Status.FAILED,
            created_at=clock.now(),
        )
        coupon = issue_coupon(policy, contact, message=message)
        CouponRedemption.objects.create(
            coupon=coupon,
            order_ref=f"o:{i}",
            email=email,
            cart_total=Decimal("100"),
            discount=Decimal("10"),
            redeemed_at=clock.now(),
        )
        NPSResponse.objects.create(
            message=message,
            contact=contact,
            enrollment=enrollment,
            flow=flow,
            order_ref=f"o:{i}",
            score=9,
            comment="=HYPERLINK(1)",
            category=NPSResponse.Category.PROMOTER,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        made.append(flow)
    return made


def staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


@pytest.mark.parametrize("name", LOGS)
def test_no_log_can_be_added_by_hand(admin_client, logs, name):
    changelist = admin_client.get(reverse(f"admin:postpurchase_{name}_changelist"))
    assert f"/postpurchase/{name}/add/" not in changelist.content.decode()
    assert admin_client.get(reverse(f"admin:postpurchase_{name}_add")).status_code == 403


def form_of(body: str, name: str) -> str:
    return re.search(rf'<form[^>]*id="{name}_form".*?</form>', body, re.S).group(0)


@pytest.mark.parametrize("name", LOGS)
def test_a_log_page_has_no_editable_field_and_a_post_changes_nothing(admin_client, logs, name):
    obj = LOGS[name].objects.order_by("pk").first()
    url = reverse(f"admin:postpurchase_{name}_change", args=[obj.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = form_of(page.content.decode(), name)
    inputs = re.findall(r"<(?:input|select|textarea)\b[^>]*>", form)
    assert [i for i in inputs if 'type="hidden"' not in i] == []  # csrf, inline counts
    assert "/delete/" not in form

    before = model_to_dict(LOGS[name].objects.get(pk=obj.pk))
    edited = {key: "x" for key in before} | {"status": "sent", "score": "0", "_save": "Save"}
    response = admin_client.post(url, edited)
    assert response.status_code == 403
    assert model_to_dict(LOGS[name].objects.get(pk=obj.pk)) == before


@pytest.mark.parametrize("name", LOGS)
def test_a_single_log_row_is_not_deleted_by_hand(admin_client, logs, name):
    obj = LOGS[name].objects.order_by("pk").first()
    url = reverse(f"admin:postpurchase_{name}_delete", args=[obj.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse(f"admin:postpurchase_{name}_changelist")
    assert "delete_selected" not in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [obj.pk]})
    assert LOGS[name].objects.filter(pk=obj.pk).exists()


def test_deleting_a_contact_still_erases_its_logs(admin_client, logs):
    """The one deletion logs need: a customer's erasure request takes their logs along."""
    contact = Contact.objects.get(email="ann@example.com")
    url = reverse("admin:postpurchase_contact_delete", args=[contact.pk])
    assert "permission to delete" not in admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Message.objects.filter(to_email="ann@example.com").exists()
    assert not CouponRedemption.objects.filter(email="ann@example.com").exists()
    assert Message.objects.filter(to_email="bob@example.com").exists()


def history(obj) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        )
    )


def test_retry_and_exit_write_the_history_of_each_changed_enrollment(admin_client, logs):
    first, second = Enrollment.objects.order_by("pk")
    Enrollment.objects.filter(pk=first.pk).update(status=Enrollment.Status.FAILED)
    url = reverse("admin:postpurchase_enrollment_changelist")
    admin_client.post(url, {"action": "retry_selected", "_selected_action": [first.pk, second.pk]})
    assert [e.action_flag for e in history(first)] == [CHANGE]
    assert "Retried" in history(first)[0].get_change_message()
    assert history(second) == []  # it was active: nothing to retry, nothing written

    admin_client.post(url, {"action": "exit_selected", "_selected_action": [first.pk, second.pk]})
    assert len(history(first)) == 2 and len(history(second)) == 1
    assert "Exited" in history(second)[0].get_change_message()
    assert Enrollment.objects.get(pk=second.pk).status == Enrollment.Status.EXITED


def test_resend_writes_the_history_of_each_resent_message(admin_client, logs):
    failed, other = Message.objects.order_by("pk")
    Message.objects.filter(pk=other.pk).update(status=Message.Status.SENT)
    admin_client.post(
        reverse("admin:postpurchase_message_changelist"),
        {"action": "resend_selected", "_selected_action": [failed.pk, other.pk]},
    )
    assert Message.objects.get(pk=failed.pk).status == Message.Status.SENT
    assert [e.action_flag for e in history(failed)] == [CHANGE]
    assert "Resent" in history(failed)[0].get_change_message()
    assert history(other) == []


def test_a_view_only_user_sees_the_logs_and_cannot_act(client, django_user_model, logs):
    user = staff(django_user_model, *(f"view_{name}" for name in LOGS))
    client.force_login(user)
    for name, model in LOGS.items():
        changelist = reverse(f"admin:postpurchase_{name}_changelist")
        page = client.get(changelist)
        assert page.status_code == 200
        assert "export_csv" not in page.content.decode()
        obj = model.objects.order_by("pk").first()
        assert (
            client.get(reverse(f"admin:postpurchase_{name}_change", args=[obj.pk])).status_code
            == 200
        )
    enrollment = Enrollment.objects.order_by("pk").first()
    client.post(
        reverse("admin:postpurchase_enrollment_changelist"),
        {"action": "exit_selected", "_selected_action": [enrollment.pk]},
    )
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.ACTIVE
    assert LogEntry.objects.count() == 0


EXPORTS = {
    "message": (
        "id,flow,enrollment_id,contact_id,to_email,language,subject,category,status,"
        "esp_name,esp_message_id,attempts,created_at,sent_at,opened_at,clicked_at,"
        "possible_duplicate_at,wanted_at,deferred_until,deferral_reason,deferrals",
        "enrollment__flow__id__exact",
    ),
    "enrollment": (
        "id,flow,contact_id,email,order_ref,status,step,attempts,triggered_at,due_at,"
        "finished_at,exit_reason",
        "flow__id__exact",
    ),
    "npsresponse": (
        "id,flow,contact_id,email,order_ref,score,category,comment,created_at,updated_at",
        "flow__id__exact",
    ),
    "couponredemption": (
        "id,code,policy,order_ref,email,cart_total,discount,currency,redeemed_at",
        "order_ref",
    ),
    "event": ("id,name,contact_id,email,ref,order_ref,occurred_at", "order_ref"),
}


@pytest.mark.parametrize("name", EXPORTS)
def test_the_csv_export_holds_the_filtered_rows_only(client, django_user_model, logs, name):
    header, lookup = EXPORTS[name]
    user = staff(django_user_model, f"view_{name}", f"export_{name}")
    client.force_login(user)
    value = "o:0" if lookup == "order_ref" else logs[0].pk
    url = reverse(f"admin:postpurchase_{name}_changelist") + f"?{lookup}={value}"
    assert "export_csv" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "action": "export_csv",
            "select_across": "1",
            "index": "0",
            "_selected_action": list(LOGS[name].objects.values_list("pk", flat=True)),
        },
    )
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    lines = list(csv.reader(io.StringIO(text)))
    assert ",".join(lines[0]) == header
    assert len(lines) == 2
    assert "ann@example.com" in text and "bob@example.com" not in text
    if name == "npsresponse":
        assert "'=HYPERLINK(1)" in lines[1]  # a spreadsheet does not run it


def test_the_csv_export_needs_the_export_permission(client, django_user_model, logs):
    user = staff(django_user_model, "view_message", "change_message")
    client.force_login(user)
    ids = list(Message.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:postpurchase_message_changelist"),
        {"action": "export_csv", "_selected_action": ids},
    )
    assert not response.get("Content-Type", "").startswith("text/csv")


def test_the_contact_page_shows_its_event_history(admin_client, logs):
    contact = Contact.objects.get(email="ann@example.com")
    page = admin_client.get(reverse("admin:postpurchase_contact_change", args=[contact.pk]))
    body = page.content.decode()
    mine = Event.objects.get(contact=contact)
    theirs = Event.objects.exclude(contact=contact).get()
    assert reverse("admin:postpurchase_event_change", args=[mine.pk]) in body
    assert reverse("admin:postpurchase_event_change", args=[theirs.pk]) not in body
    link = re.search(r'href="([^"]*contact__id__exact=\d+)"', body).group(1)
    events = admin_client.get(link.replace("&amp;", "&"))
    assert events.status_code == 200
    assert events.context["cl"].result_count == 1


@pytest.mark.parametrize(
    "language, label", [("ru", "Экспортировать выбранные строки"), ("uk", "Експортувати вибрані")]
)
def test_the_log_pages_speak_the_staff_language(admin_client, logs, language, label):
    changelist = admin_client.get(
        reverse("admin:postpurchase_message_changelist"), HTTP_ACCEPT_LANGUAGE=language
    )
    assert label in changelist.content.decode()


def test_exported_cells_are_quoted_so_a_semicolon_starts_no_formula():
    # Russian and Ukrainian Excel split unquoted CSV cells at ";".
    body = csv_response("x.csv", [("comment", lambda row: row)], ["ok;=cmd|' /C calc'!A0"])
    lines = body.content.decode().splitlines()
    assert lines == ['"comment"', "\"ok;=cmd|' /C calc'!A0\""]
