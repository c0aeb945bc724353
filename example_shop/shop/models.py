"""The shop's own data: catalog, orders and reviews. postpurchase never imports these;
it reads orders and reviews through :mod:`example_shop.shop.adapter`."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone


def default_currency() -> str:
    return getattr(settings, "SHOP_CURRENCY", "RUB")


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category", args=[self.slug])


class Product(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    sku = models.CharField("SKU", max_length=64, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default=default_currency)
    description = models.TextField(blank=True)
    # Not a URLField: a shop may store relative paths or data: URIs here.
    image_url = models.CharField(max_length=2000, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="shop_product_price_gte_0"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product", args=[self.slug])


#: The text next to the checkout's marketing checkbox, recorded with the consent.
MARKETING_WORDING = "Email me offers, product tips and review requests. Unsubscribe at any time."


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        PROCESSING = "processing", "Processing"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"

    class ShippingMethod(models.TextChoices):
        COURIER = "courier", "Courier"
        POST = "post", "Post"
        PICKUP = "pickup", "Pickup point"

    class PaymentMethod(models.TextChoices):
        CARD = "card", "Card online"
        CASH = "cash", "Cash on delivery"

    class Locale(models.TextChoices):
        EN = "en", "English"
        RU = "ru", "Русский"
        UK = "uk", "Українська"

    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shop_orders",
    )
    email = models.EmailField()
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    locale = models.CharField(max_length=8, choices=Locale.choices, default=Locale.EN)
    shipping_address = models.TextField(blank=True)
    shipping_method = models.CharField(
        max_length=16, choices=ShippingMethod.choices, default=ShippingMethod.COURIER
    )
    payment_method = models.CharField(
        max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.CARD
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.NEW, db_index=True
    )
    tracking_url = models.URLField(blank=True)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    coupon_code = models.CharField(max_length=48, blank=True)
    # The checkout's "email me offers" box, as ticked (postpurchase records it with the
    # wording as consent to marketing email).
    marketing_opt_in = models.BooleanField(default=False)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default=default_currency)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivery_estimate = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Order {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("shop:order", args=[self.number])

    @property
    def customer_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def access_key(self) -> str:
        """A signature that opens the order page without logging in (links in emails)."""
        return signing.Signer(salt="shop.order").signature(self.number)

    def shareable_url(self) -> str:
        return f"{self.get_absolute_url()}?key={self.access_key()}"


class OrderItem(models.Model):
    # The line keeps its own sku/name/category/price: the order must read the same
    # after the catalog changes or the product is deleted.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items"
    )
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    category_name = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    qty = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.qty} × {self.name}"

    @property
    def total(self) -> Decimal:
        return self.price * self.qty


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shop_reviews",
    )
    email = models.EmailField()
    name = models.CharField(max_length=100)
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="shop_review_rating_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ {self.product} by {self.name}"
