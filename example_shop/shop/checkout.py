"""Placing an order: the one function the checkout view and the demo simulation share."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from postpurchase import signals
from postpurchase.coupons import CouponError, redeem_coupon, validate_coupon

from .cart import CartLine
from .models import Order, OrderItem, Product

FREE_SHIPPING_FROM = Decimal("5000")
SHIPPING_COST = {
    Order.ShippingMethod.COURIER: Decimal("350"),
    Order.ShippingMethod.POST: Decimal("250"),
    Order.ShippingMethod.PICKUP: Decimal("0"),
}
DELIVERY_DAYS = {
    Order.ShippingMethod.COURIER: 2,
    Order.ShippingMethod.POST: 6,
    Order.ShippingMethod.PICKUP: 3,
}
# Unambiguous alphabet (no 0/O, 1/I): customers read order numbers over the phone.
NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class CheckoutError(Exception):
    """The order cannot be placed as asked (empty cart, product gone); safe to show."""


class CouponRejected(CheckoutError):
    """The coupon code cannot be used; ``reason`` is postpurchase's machine-readable one
    ("unknown", "expired", "used", "wrong_customer", "below_minimum", ...)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Customer:
    email: str
    first_name: str
    last_name: str = ""
    phone: str = ""
    shipping_address: str = ""
    shipping_method: str = Order.ShippingMethod.COURIER
    payment_method: str = Order.PaymentMethod.CARD
    marketing_opt_in: bool = False


def shipping_cost(method: str, subtotal: Decimal) -> Decimal:
    if subtotal >= FREE_SHIPPING_FROM:
        return Decimal("0")
    return SHIPPING_COST[method]


def current_locale() -> str:
    """The active language reduced to one the shop writes emails in."""
    code = (translation.get_language() or "en").split("-")[0].lower()
    return code if code in Order.Locale.values else Order.Locale.EN


def new_order_number() -> str:
    return "BP-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))


def place_order(
    cart_lines: Sequence[CartLine],
    customer: Customer,
    *,
    user: AbstractBaseUser | AnonymousUser | None = None,
    locale: str | None = None,
    placed_at: datetime | None = None,
    coupon_code: str = "",
) -> Order:
    """Create the order and its items and send ``order_placed``, all in one transaction.

    Prices are re-read from the catalog, not trusted from the cart. ``placed_at``
    lets the demo simulation place an order at a simulated time. A ``coupon_code`` is
    checked and redeemed with postpurchase's built-in coupons, in the same transaction:
    a refused code raises :class:`CouponRejected` and no order is created.
    """
    if not cart_lines:
        raise CheckoutError("Your cart is empty.")
    placed_at = placed_at or timezone.now()
    with transaction.atomic():
        products = Product.objects.select_related("category").in_bulk(
            [line.product.pk for line in cart_lines]
        )
        missing = [
            line.product.name
            for line in cart_lines
            if line.product.pk not in products or not products[line.product.pk].is_active
        ]
        if missing:
            raise CheckoutError(f"No longer available: {', '.join(missing)}.")
        items = [
            OrderItem(
                product=products[line.product.pk],
                sku=products[line.product.pk].sku,
                name=products[line.product.pk].name,
                category_name=products[line.product.pk].category.name,
                price=products[line.product.pk].price,
                qty=line.qty,
            )
            for line in cart_lines
        ]
        subtotal = sum((item.price * item.qty for item in items), Decimal("0"))
        currency = items[0].product.currency
        categories = sorted({item.category_name for item in items})
        cost = shipping_cost(customer.shipping_method, subtotal)
        discount = Decimal("0")
        coupon_code = coupon_code.strip()
        if coupon_code:
            check = validate_coupon(
                coupon_code, customer.email, subtotal, categories, currency=currency
            )
            if not check.ok:
                raise CouponRejected(check.message, check.reason)
            discount = check.discount
            if check.free_shipping:
                cost = Decimal("0")
        order = Order(
            user=user if user is not None and user.is_authenticated else None,
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            phone=customer.phone,
            locale=locale or current_locale(),
            shipping_address=customer.shipping_address,
            shipping_method=customer.shipping_method,
            payment_method=customer.payment_method,
            marketing_opt_in=customer.marketing_opt_in,
            subtotal=subtotal,
            shipping_cost=cost,
            discount=discount,
            coupon_code=coupon_code.upper() if coupon_code else "",
            total=subtotal + cost - discount,
            currency=currency,
            created_at=placed_at,
            delivery_estimate=(placed_at + timedelta(days=DELIVERY_DAYS[customer.shipping_method]))
            .astimezone(timezone.get_current_timezone())
            .date(),
        )
        _save_with_unique_number(order)
        if coupon_code:
            # Atomic: of two checkouts racing for the last use of a code one wins; the
            # other's whole order rolls back with the error.
            try:
                redeem_coupon(
                    coupon_code,
                    customer.email,
                    order.number,
                    subtotal,
                    categories,
                    currency=currency,
                )
            except CouponError as exc:
                raise CouponRejected(str(exc), exc.reason) from exc
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        # postpurchase records the event now and does its work on commit, so a
        # rollback here leaves no thank-you email for an order that does not exist.
        signals.order_placed.send(sender=Order, order=order)
    return order


def _save_with_unique_number(order: Order, attempts: int = 5) -> None:
    # Let the unique constraint decide instead of check-then-insert; a savepoint keeps
    # the outer transaction usable after a collision.
    for attempt in range(attempts):
        order.number = new_order_number()
        try:
            with transaction.atomic():
                order.save()
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise
