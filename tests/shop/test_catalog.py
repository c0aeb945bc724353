from __future__ import annotations

import pytest
from django.urls import reverse

import postpurchase

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracked(monkeypatch):
    calls = []
    monkeypatch.setattr(postpurchase, "track", lambda name, **kwargs: calls.append((name, kwargs)))
    return calls


def test_home_lists_categories_and_products(client, product):
    response = client.get(reverse("shop:home"))
    assert response.status_code == 200
    assert "Backpacks" in response.text
    assert "Trekker 45 L" in response.text


def test_category_page_shows_only_active_products(client, product):
    ProductFactory(name="Retired Pack", category=product.category, is_active=False)
    response = client.get(product.category.get_absolute_url())
    assert response.status_code == 200
    assert "Trekker 45 L" in response.text
    assert "Retired Pack" not in response.text


def test_product_page(client, product):
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert "Trekker 45 L" in response.text
    assert "Write a review" in response.text
    assert "₽4,990" in response.text  # the page is in English


def test_unknown_and_inactive_pages_are_404(client):
    inactive = ProductFactory(is_active=False)
    assert client.get(inactive.get_absolute_url()).status_code == 404
    assert client.get(reverse("shop:category", args=["nope"])).status_code == 404
    assert client.get(reverse("shop:product", args=["nope"])).status_code == 404


def test_product_view_is_tracked_for_logged_in_customer(client, product, customer, tracked):
    client.force_login(customer)
    client.get(product.get_absolute_url())
    assert len(tracked) == 1
    name, kwargs = tracked[0]
    assert name == "product_viewed"
    assert kwargs["email"] == "anna@example.com"
    assert kwargs["obj"] == product
    assert kwargs["data"]["sku"] == "BP-TRK-45"
    assert kwargs["data"]["url"].startswith("http")


def test_guest_product_view_is_not_tracked(client, product, tracked):
    client.get(product.get_absolute_url())
    assert tracked == []


def test_product_view_records_a_postpurchase_event(client, product, customer):
    """Through the real postpurchase.track (needs the app's models)."""
    from postpurchase.models import Event

    client.force_login(customer)
    client.get(product.get_absolute_url())
    event = Event.objects.get(name="product_viewed")
    assert event.contact.email == "anna@example.com"
    assert event.data["sku"] == "BP-TRK-45"


def test_empty_catalog_home_explains_how_to_load_demo(client):
    response = client.get(reverse("shop:home"))
    assert response.status_code == 200
    assert "manage.py demo" in response.text
