from __future__ import annotations

import pytest
from django.urls import reverse

import postpurchase

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


def cart_of(client) -> dict[str, int]:
    return client.session.get("cart", {})


def test_add_update_remove(client, product):
    response = client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 2})
    assert response.status_code == 302
    assert cart_of(client) == {str(product.pk): 2}

    client.post(reverse("shop:cart_add", args=[product.pk]))
    assert cart_of(client) == {str(product.pk): 3}

    page = client.get(reverse("shop:cart"))
    assert page.status_code == 200
    assert "Trekker 45 L" in page.text
    assert "₽14,970" in page.text  # 3 × 4 990, in English

    client.post(reverse("shop:cart_update", args=[product.pk]), {"qty": 1})
    assert cart_of(client) == {str(product.pk): 1}

    client.post(reverse("shop:cart_remove", args=[product.pk]))
    assert cart_of(client) == {}
    assert "Your cart is empty" in client.get(reverse("shop:cart")).text


def test_update_to_zero_removes_the_line(client, product):
    client.post(reverse("shop:cart_add", args=[product.pk]))
    client.post(reverse("shop:cart_update", args=[product.pk]), {"qty": 0})
    assert cart_of(client) == {}


def test_invalid_quantity_is_rejected_with_a_message(client, product):
    client.post(reverse("shop:cart_add", args=[product.pk]))
    response = client.post(
        reverse("shop:cart_update", args=[product.pk]), {"qty": "lots"}, follow=True
    )
    assert "Quantity must be a number" in response.text
    assert cart_of(client) == {str(product.pk): 1}


def test_cart_changes_need_post(client, product):
    assert client.get(reverse("shop:cart_add", args=[product.pk])).status_code == 405


def test_cannot_add_inactive_product(client):
    retired = ProductFactory(is_active=False)
    assert client.post(reverse("shop:cart_add", args=[retired.pk])).status_code == 404


def test_deactivated_product_drops_out_of_the_cart(client, product):
    client.post(reverse("shop:cart_add", args=[product.pk]))
    product.is_active = False
    product.save()
    assert "Your cart is empty" in client.get(reverse("shop:cart")).text


def test_add_redirects_back_only_to_this_site(client, product):
    url = reverse("shop:cart_add", args=[product.pk])
    assert client.post(url, {"next": "/c/backpacks/"})["Location"] == "/c/backpacks/"
    assert client.post(url, {"next": "https://evil.example/"})["Location"] == reverse("shop:cart")


def test_cart_update_is_tracked_for_logged_in_customer(client, product, customer, monkeypatch):
    calls = []
    monkeypatch.setattr(postpurchase, "track", lambda name, **kw: calls.append((name, kw)))
    client.force_login(customer)
    client.post(reverse("shop:cart_add", args=[product.pk]), {"qty": 2})
    assert [name for name, _ in calls] == ["cart_updated"]
    data = calls[0][1]["data"]
    [line] = data["items"]
    assert (line["sku"], line["name"], line["qty"]) == ("BP-TRK-45", "Trekker 45 L", 2)
    assert (line["price"], line["total"]) == ("4990.00", "9980.00")
    assert line["url"].startswith("http")
    assert data["subtotal"] == "9980.00"
    assert data["cart_url"].startswith("http") and data["cart_url"].endswith("/cart/")


def test_emptying_the_cart_is_tracked_as_cart_emptied(client, product, customer, monkeypatch):
    calls = []
    monkeypatch.setattr(postpurchase, "track", lambda name, **kw: calls.append((name, kw)))
    client.force_login(customer)
    client.post(reverse("shop:cart_add", args=[product.pk]))
    client.post(reverse("shop:cart_remove", args=[product.pk]))
    assert [name for name, _ in calls] == ["cart_updated", "cart_emptied"]
