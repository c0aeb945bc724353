"""Coupon codes as Oscar vouchers, and Oscar's use of them as redemptions.

An Oscar voucher is a ``Voucher`` with a ``ConditionalOffer`` whose ``Condition`` says
which baskets qualify (a ``Range`` of products, a minimum value) and whose ``Benefit``
says what they get. :func:`mirror` builds that for one code: the coupon's value
(percent, fixed amount, free shipping), minimum total, categories, uses and validity.
The condition is one of this app's proxies (:mod:`postpurchase.contrib.oscar.models`)
that also binds the code to its customer (:func:`may_use`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from oscar.core.loading import get_model

from postpurchase import clock
from postpurchase.coupons import CouponError, redeem_coupon
from postpurchase.exceptions import PostpurchaseError
from postpurchase.models import Coupon, CouponPolicy

logger = logging.getLogger("postpurchase.contrib.oscar")

#: The conditions that bind a voucher to its customer: at least one item of the range
#: (no minimum), or a minimum value of items of the range.
COUNT_CONDITION = "postpurchase.contrib.oscar.models.CustomerCountCondition"
VALUE_CONDITION = "postpurchase.contrib.oscar.models.CustomerValueCondition"
ANY_PRODUCT_RANGE = "Post-purchase coupons: any product"


class VoucherMirrorError(PostpurchaseError):
    """A code cannot be made an Oscar voucher that works (logged by the caller)."""


def voucher_name(coupon: Coupon) -> str:
    return f"Post-purchase coupon {coupon.code}"


def mirror(coupon: Coupon) -> Any:
    """The Oscar voucher of ``coupon``, created the first time (idempotent: a re-run
    finds it by code and only brings its validity up to date)."""
    Voucher = get_model("voucher", "Voucher")
    with transaction.atomic():
        voucher = Voucher.objects.filter(code=coupon.code).first()
        if voucher is not None:
            voucher.end_datetime = coupon.expires_at
            voucher.save(update_fields=["end_datetime"])
            voucher.offers.update(end_datetime=coupon.expires_at)
            return voucher
        offer = get_model("offer", "ConditionalOffer").objects.create(
            name=voucher_name(coupon),
            offer_type="Voucher",
            condition=_condition(coupon),
            benefit=_benefit(coupon),
            start_datetime=coupon.issued_at,
            end_datetime=coupon.expires_at,
            # A multi-use code is used up after uses_left orders, as in postpurchase.
            max_global_applications=coupon.uses_left if coupon.uses_left > 1 else None,
        )
        voucher = Voucher.objects.create(
            name=voucher_name(coupon),
            code=coupon.code,
            usage=Voucher.SINGLE_USE if coupon.uses_left == 1 else Voucher.MULTI_USE,
            start_datetime=coupon.issued_at,
            end_datetime=coupon.expires_at,
        )
        voucher.offers.add(offer)
    logger.info("postpurchase: coupon %s mirrored as Oscar voucher %s", coupon.pk, voucher.pk)
    return voucher


def _range(coupon: Coupon) -> Any:
    Range = get_model("offer", "Range")
    names = coupon.category_list
    if not names:
        found, _created = Range.objects.get_or_create(
            name=ANY_PRODUCT_RANGE, defaults={"includes_all_products": True}
        )
        return found
    Category = get_model("catalogue", "Category")
    categories = [c for c in Category.objects.all() if c.name.strip().lower() in _lower(names)]
    missing = _lower(names) - {c.name.strip().lower() for c in categories}
    if missing:
        raise VoucherMirrorError(
            f"coupon {coupon.pk}: its categories {sorted(missing)} are not Oscar categories "
            "(a voucher for them would discount nothing)"
        )
    name = f"Post-purchase coupons: {', '.join(sorted(names))}"[:128]
    found, _created = Range.objects.get_or_create(name=name)
    found.included_categories.set(categories)
    return found


def _lower(names: list[str]) -> set[str]:
    return {n.strip().lower() for n in names}


def _condition(coupon: Coupon) -> Any:
    Condition = get_model("offer", "Condition")
    if coupon.minimum_total:
        return Condition.objects.create(
            range=_range(coupon),
            type=Condition.VALUE,
            value=coupon.minimum_total,
            proxy_class=VALUE_CONDITION,
        )
    return Condition.objects.create(
        range=_range(coupon), type=Condition.COUNT, value=1, proxy_class=COUNT_CONDITION
    )


def _benefit(coupon: Coupon) -> Any:
    Benefit = get_model("offer", "Benefit")
    if coupon.kind == CouponPolicy.Kind.PERCENT:
        return Benefit.objects.create(
            range=_range(coupon), type=Benefit.PERCENTAGE, value=coupon.percent
        )
    if coupon.kind == CouponPolicy.Kind.FIXED:
        return Benefit.objects.create(range=_range(coupon), type=Benefit.FIXED, value=coupon.amount)
    # Free shipping: Oscar's shipping benefits apply to the shipping charge, no range.
    return Benefit.objects.create(type=Benefit.SHIPPING_PERCENTAGE, value=Decimal(100))


def expire(coupon: Coupon) -> None:
    """End the voucher of ``coupon`` now if it still runs later (its end is the
    coupon's expiry, so normally it has ended already)."""
    Voucher = get_model("voucher", "Voucher")
    now = clock.now()
    for voucher in Voucher.objects.filter(code=coupon.code, end_datetime__gt=now):
        voucher.end_datetime = now
        voucher.save(update_fields=["end_datetime"])
        voucher.offers.filter(end_datetime__gt=now).update(end_datetime=now)


# --- the customer binding ------------------------------------------------------------


def bound_email(offer: Any) -> str | None:
    """The address of the customer whose code ``offer`` belongs to; None if it is not a
    postpurchase code."""
    codes = list(offer.vouchers.values_list("code", flat=True))
    coupon = Coupon.objects.filter(code__in=codes).select_related("contact").first()
    return coupon.contact.email if coupon is not None else None


def may_use(offer: Any, basket: Any) -> bool:
    """May this basket's owner use the code? A signed-in customer: only their own code
    (their account's address is the one it was sent to). A guest: only a code sent to
    an address without an account, which guests cannot be told apart by; the owner of
    an account signs in to use it."""
    email = bound_email(offer)
    if email is None:
        return False
    owner = basket.owner
    if owner is not None and owner.is_authenticated:
        return (owner.email or "").strip().lower() == email
    return not get_user_model().objects.filter(email__iexact=email, is_active=True).exists()


# --- redemptions -----------------------------------------------------------------------


def report_redemptions(order: Any, order_ref: str, email: str) -> None:
    """Tell postpurchase which of its codes Oscar's checkout used for ``order``, so its
    admin counts the redemption and the code's uses. A refusal (another customer's
    code, ...) is logged: the order is placed with Oscar's discount already."""
    applications = get_model("voucher", "VoucherApplication").objects.filter(order=order)
    codes = [a.voucher.code for a in applications.select_related("voucher")]
    if not codes:
        return
    lines = list(order.lines.select_related("product"))
    subtotal = sum((line.line_price_before_discounts_incl_tax for line in lines), Decimal(0))
    categories = [
        c.name for line in lines if line.product is not None for c in line.product.get_categories()
    ]
    for coupon in Coupon.objects.filter(code__in=codes):
        try:
            with transaction.atomic():
                redeem_coupon(
                    coupon.code, email, order_ref, subtotal, categories, currency=order.currency
                )
        except CouponError as exc:
            logger.warning(
                "postpurchase: Oscar order %s used coupon %s, which postpurchase refuses (%s)",
                order.pk,
                coupon.pk,
                exc.reason,
            )
