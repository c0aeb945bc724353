"""Saving a customer's review and telling postpurchase about it."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from postpurchase import signals

from .models import Order, Product, Review


def order_for_review(product: Product, email: str) -> Order | None:
    """The customer's latest order with this product (review links in emails carry no
    order, so we find it by email; the app then matches the review to its enrollment)."""
    return (
        Order.objects.filter(email__iexact=email, items__product=product)
        .exclude(status__in=[Order.Status.CANCELLED, Order.Status.REFUNDED])
        .order_by("-created_at")
        .first()
    )


def submit_review(
    product: Product,
    *,
    email: str,
    name: str,
    rating: int,
    text: str = "",
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Review:
    with transaction.atomic():
        review = Review.objects.create(
            product=product,
            order=order_for_review(product, email),
            user=user if user is not None and user.is_authenticated else None,
            email=email,
            name=name,
            rating=rating,
            text=text,
        )
        signals.review_submitted.send(sender=Review, review=review)
    return review
