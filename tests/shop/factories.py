"""factory-boy factories for the example shop's models."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from example_shop.shop.models import Category, Order, OrderItem, Product, Review


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Anna"
    last_name = "Petrova"
    password = factory.django.Password("secret-pass-123")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Backpack {n}")
    slug = factory.Sequence(lambda n: f"backpack-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("4990.00")
    description = "A sturdy backpack."


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T-{n:05d}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    first_name = "Anna"
    last_name = "Petrova"
    locale = "en"
    shipping_address = "5 Forest St., Moscow"
    subtotal = Decimal("4990.00")
    shipping_cost = Decimal("0.00")
    total = Decimal("4990.00")


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda i: i.product.sku if i.product else "GONE-1")
    name = factory.LazyAttribute(lambda i: i.product.name if i.product else "Gone product")
    category_name = factory.LazyAttribute(lambda i: i.product.category.name if i.product else "")
    price = factory.LazyAttribute(lambda i: i.product.price if i.product else Decimal("100"))
    qty = 1


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    email = factory.Sequence(lambda n: f"reviewer{n}@example.com")
    name = "Anna Petrova"
    rating = 5
    text = "Great."
