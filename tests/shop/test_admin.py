from __future__ import annotations

import pytest
from django.urls import reverse

from example_shop.shop.models import Order
from example_shop.shop.orders import set_status

from .factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    return client


def change_form_data(order: Order, **changes) -> dict:
    data = {
        "number": order.number,
        "user": "",
        "email": order.email,
        "first_name": order.first_name,
        "last_name": order.last_name,
        "phone": order.phone,
        "locale": order.locale,
        "shipping_address": order.shipping_address,
        "shipping_method": order.shipping_method,
        "payment_method": order.payment_method,
        "status": order.status,
        "tracking_url": order.tracking_url,
        "subtotal": order.subtotal,
        "shipping_cost": order.shipping_cost,
        "total": order.total,
        "currency": order.currency,
        "created_at_0": order.created_at.strftime("%Y-%m-%d"),
        "created_at_1": order.created_at.strftime("%H:%M:%S"),
        "delivery_estimate": "",
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_admin_pages_load(staff_client):
    order = OrderItemFactory().order
    for url in [
        reverse("admin:shop_order_changelist") + "?status__exact=new",
        reverse("admin:shop_order_change", args=[order.pk]),
        reverse("admin:shop_product_changelist"),
        reverse("admin:shop_category_changelist"),
        reverse("admin:shop_review_changelist"),
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_changing_status_in_admin_sends_the_signal_once(staff_client, inbound_signals):
    order = OrderFactory(status=Order.Status.PROCESSING)
    url = reverse("admin:shop_order_change", args=[order.pk])
    response = staff_client.post(
        url,
        change_form_data(
            order, status="shipped", tracking_url="https://track.example.com/1", phone="+7 1"
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert order.phone == "+7 1"  # the other edits are saved too
    sent = inbound_signals.only("order_shipped")
    assert sent["order"].pk == order.pk
    assert sent["data"]["tracking_url"] == "https://track.example.com/1"
    assert inbound_signals.names() == ["order_shipped"]


def test_saving_without_status_change_sends_nothing(staff_client, inbound_signals):
    order = OrderFactory(status=Order.Status.SHIPPED)
    url = reverse("admin:shop_order_change", args=[order.pk])
    staff_client.post(url, change_form_data(order, phone="+7 2"))
    assert inbound_signals.calls == []


def test_admin_action_marks_delivered(staff_client, inbound_signals):
    shipped = OrderFactory(status=Order.Status.SHIPPED)
    already = OrderFactory(status=Order.Status.DELIVERED)
    response = staff_client.post(
        reverse("admin:shop_order_changelist"),
        {"action": "mark_delivered", "_selected_action": [shipped.pk, already.pk]},
        follow=True,
    )
    assert "1 order(s) marked delivered; 1 unchanged." in response.text
    assert inbound_signals.names() == ["order_delivered"]
    assert inbound_signals.only("order_delivered")["order"].pk == shipped.pk


@pytest.mark.parametrize(
    ("status", "signal"),
    [
        ("processing", "order_paid"),
        ("shipped", "order_shipped"),
        ("delivered", "order_delivered"),
        ("cancelled", "order_cancelled"),
        ("refunded", "order_refunded"),
    ],
)
def test_set_status_sends_the_matching_signal(status, signal, inbound_signals):
    order = OrderFactory()
    assert set_status(order, status) is True
    assert inbound_signals.names() == [signal]
    assert Order.objects.get(pk=order.pk).status == status


def test_set_status_to_same_status_is_a_no_op(inbound_signals):
    order = OrderFactory(status=Order.Status.SHIPPED)
    assert set_status(order, "shipped") is False
    assert inbound_signals.calls == []


def test_back_to_new_sends_nothing(inbound_signals):
    order = OrderFactory(status=Order.Status.PROCESSING)
    assert set_status(order, "new") is True
    assert inbound_signals.calls == []


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError, match="Unknown order status"):
        set_status(OrderFactory(), "lost")
