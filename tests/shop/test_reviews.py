from __future__ import annotations

import pytest

from example_shop.shop.models import Order, Review

from .factories import OrderItemFactory

pytestmark = pytest.mark.django_db


def test_review_is_saved_and_sent_once(client, product, inbound_signals):
    item = OrderItemFactory(product=product, order__email="olga@example.com")
    response = client.post(
        product.get_absolute_url(),
        {"name": "Olga", "email": "Olga@Example.com", "rating": "4", "text": "Comfortable."},
    )
    assert response.status_code == 302
    assert response["Location"] == product.get_absolute_url() + "#reviews"

    review = Review.objects.get()
    assert (review.product, review.rating, review.text) == (product, 4, "Comfortable.")
    assert review.order == item.order  # found by email, case-insensitively
    assert inbound_signals.names() == ["review_submitted"]
    assert inbound_signals.only("review_submitted")["review"] == review

    page = client.get(product.get_absolute_url())
    assert "Thank you for your review!" in page.text
    assert "Comfortable." in page.text


def test_review_without_an_order_is_still_accepted(client, product):
    client.post(
        product.get_absolute_url(), {"name": "Ivan", "email": "ivan@example.com", "rating": "5"}
    )
    assert Review.objects.get().order is None


def test_review_does_not_attach_to_cancelled_order(client, product):
    OrderItemFactory(
        product=product, order__email="olga@example.com", order__status=Order.Status.CANCELLED
    )
    client.post(
        product.get_absolute_url(), {"name": "Olga", "email": "olga@example.com", "rating": "3"}
    )
    assert Review.objects.get().order is None


def test_invalid_review_shows_errors_and_keeps_input(client, product, inbound_signals):
    response = client.post(
        product.get_absolute_url(),
        {"name": "Olga", "email": "olga@example.com", "rating": "9", "text": "Keep me"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert "Keep me" in response.text
    assert not Review.objects.exists()
    assert inbound_signals.calls == []


def test_logged_in_review_is_prefilled_and_linked(client, product, customer):
    client.force_login(customer)
    form = client.get(product.get_absolute_url()).context["form"]
    assert form.initial["email"] == "anna@example.com"
    client.post(
        product.get_absolute_url(), {"name": "Anna", "email": "anna@example.com", "rating": "5"}
    )
    assert Review.objects.get().user == customer
