"""Orders in the admin read as staff know them: the number from the snapshot, linked to
the shop's admin page for the order (issue 11), not "shop.order:12"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase import clock
from postpurchase.adapters import BaseAdapter
from postpurchase.models import Message, NPSResponse
from postpurchase.testing.factories import (
    ContactFactory,
    EnrollmentFactory,
    EventFactory,
    order_snapshot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed():
    contact = ContactFactory()
    return EventFactory(
        contact=contact,
        order_ref="shop.order:12",
        snapshot=order_snapshot(email=contact.email, number="A-1042"),
    )


def test_the_default_links_a_registered_model_and_nothing_else():
    adapter = BaseAdapter()
    assert adapter.order_admin_url("shop.order:12") == reverse(
        "admin:shop_order_change", args=["12"]
    )
    assert adapter.order_admin_url("shop.nothing:12") is None
    assert adapter.order_admin_url("12") is None
    assert adapter.order_admin_url("") is None


def test_events_show_the_order_number_linked_to_the_shop_admin(admin_client, placed):
    page = admin_client.get(reverse("admin:postpurchase_event_changelist")).content.decode()
    link = reverse("admin:shop_order_change", args=["12"])
    assert f'<a href="{link}" title="shop.order:12">No. A-1042</a>' in page
    assert "Order placed" in page  # the event's label, not order_placed


def test_enrollments_show_the_number_of_their_order(admin_client, placed):
    EnrollmentFactory(contact=placed.contact, order_ref="shop.order:12")
    page = admin_client.get(reverse("admin:postpurchase_enrollment_changelist")).content.decode()
    assert "No. A-1042" in page


def test_an_order_without_a_snapshot_shows_its_reference(admin_client):
    EventFactory(order_ref="shop.order:77")
    page = admin_client.get(reverse("admin:postpurchase_event_changelist")).content.decode()
    assert ">shop.order:77<" in page


def test_the_nps_report_and_list_show_the_order_number(admin_client, placed):
    enrollment = EnrollmentFactory(contact=placed.contact, order_ref="shop.order:12")
    message = Message.objects.create(
        enrollment=enrollment,
        contact=placed.contact,
        to_email=placed.contact.email,
        category="marketing",
        created_at=clock.now(),
    )
    NPSResponse.objects.create(
        message=message,
        contact=placed.contact,
        enrollment=enrollment,
        flow=enrollment.flow,
        order_ref="shop.order:12",
        score=3,
        category="detractor",
        comment="Late",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    for name in (
        "admin:postpurchase_npsresponse_report",
        "admin:postpurchase_npsresponse_changelist",
    ):
        page = admin_client.get(reverse(name)).content.decode()
        assert "No. A-1042" in page, name
        assert ">shop.order:12<" not in page


def test_a_shop_adapter_gives_its_own_link(admin_client, placed, settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "tests.core.test_admin_orders.ExternalAdmin",
    }
    page = admin_client.get(reverse("admin:postpurchase_event_changelist")).content.decode()
    assert 'href="https://erp.example.com/orders/shop.order:12"' in page


class ExternalAdmin(BaseAdapter):
    def order_admin_url(self, order_ref: str) -> str | None:
        return f"https://erp.example.com/orders/{order_ref}"
