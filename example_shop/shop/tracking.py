"""Behaviour events (product viewed, cart updated) for customers we can email."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

import postpurchase
from postpurchase.exceptions import PostpurchaseError

from .adapter import absolute, money, product_url
from .cart import CartLine
from .models import Product

logger = logging.getLogger(__name__)


def track_customer_event(
    request: HttpRequest, name: str, *, obj: Any = None, data: dict[str, Any] | None = None
) -> None:
    """Send ``postpurchase.track`` for a logged-in customer with an email; skip guests.

    A failed tracking call must never break the page the customer is looking at, so
    the app's own errors are logged, not raised.
    """
    user = getattr(request, "user", None)
    email = getattr(user, "email", "") if user is not None and user.is_authenticated else ""
    if not email:
        return
    # The name lets the emails greet a customer who has not ordered yet.
    contact = {"first_name": user.first_name, "last_name": user.last_name}
    try:
        postpurchase.track(name, email=email, obj=obj, data=data or {}, contact=contact)
    except PostpurchaseError:
        logger.exception("postpurchase.track(%r) failed for %s", name, email)


def product_data(product: Product) -> dict[str, Any]:
    """A product as ``product_viewed`` data: what the browse-abandonment emails show."""
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category.name,
        "price": money(product.price),
        "currency": product.currency,
        "url": product_url(product),
        "image_url": absolute(product.image_url),
    }


def cart_data(lines: list[CartLine]) -> dict[str, Any]:
    """A cart as ``cart_updated`` data: what the cart-abandonment emails show."""
    return {
        "items": [
            {
                "sku": line.product.sku,
                "name": line.product.name,
                "qty": line.qty,
                "price": money(line.product.price),
                "total": money(line.total),
                "url": product_url(line.product),
                "image_url": absolute(line.product.image_url),
            }
            for line in lines
        ],
        "subtotal": money(sum(line.total for line in lines)),
        "currency": lines[0].product.currency if lines else "",
        "cart_url": absolute(reverse("shop:cart")),
    }
