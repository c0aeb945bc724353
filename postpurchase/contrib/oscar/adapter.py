"""The adapter for django-oscar: snapshots of Oscar's ``Order`` and ``ProductReview``,
and coupon codes mirrored as Oscar vouchers.

Set ``POSTPURCHASE["ADAPTER"] = "postpurchase.contrib.oscar.adapter.OscarAdapter"``, or
a subclass that overrides what your shop does differently (``order_locale()`` when you
store the customer's language, ``product_category()``, ...).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from oscar.core.loading import get_model

from postpurchase.adapters import BaseAdapter
from postpurchase.conf import site_url
from postpurchase.contrib.oscar import vouchers


def absolute(url: str) -> str:
    """Emails are read outside the shop: prefix a site-relative path with SITE_URL."""
    if not url or "://" in url:
        return url
    return site_url() + ("" if url.startswith("/") else "/") + url


def _reverse(name: str, **kwargs: Any) -> str:
    """An absolute URL, or "" when the shop's URLconf leaves that Oscar view out."""
    try:
        return absolute(reverse(name, kwargs=kwargs))
    except NoReverseMatch:
        return ""


def address_text(address: Any) -> str:
    """An Oscar address on several lines (name, street, city, postcode, country)."""
    return "\n".join(address.active_address_fields()) if address is not None else ""


def order_email(order: Any) -> str:
    """The address Oscar mails the order to: the guest email, else the account's."""
    return order.guest_email or (order.user.email if order.user_id else "")


class OscarAdapter(BaseAdapter):
    """Reads Oscar 4's order, line, product and review models (forked ones too: the
    fields used are Oscar's own)."""

    # --- orders --------------------------------------------------------------------

    def order_ref(self, order: Any) -> str:
        # Oscar's models are always "order.order", forked or not.
        return f"oscar.order:{order.pk}"

    def order_snapshot(self, order: Any) -> dict[str, Any]:
        lines = list(
            order.lines.select_related("product", "product__parent").prefetch_related("attributes")
        )
        items = [self.line_snapshot(line) for line in lines]
        subtotal = sum((line.line_price_before_discounts_incl_tax for line in lines), Decimal(0))
        basket_total = sum((line.line_price_incl_tax for line in lines), Decimal(0))
        first_name, last_name = self.customer_name(order)
        source = order.sources.select_related("source_type").first()
        return {
            # OrderCreator leaves the int of Oscar's OrderNumberGenerator on the instance.
            "number": str(order.number),
            "email": order_email(order),
            "first_name": first_name,
            "last_name": last_name,
            "locale": self.order_locale(order),
            "placed_at": order.date_placed,
            "currency": order.currency,
            "items": items,
            # Prices include tax, as Oscar shows them to the customer.
            "subtotal": subtotal,
            "discount": subtotal - basket_total,
            "shipping_cost": order.shipping_incl_tax,
            "total": order.total_incl_tax,
            "total_excl_tax": order.total_excl_tax,
            "payment_method": source.source_type.name if source is not None else "",
            "shipping_method": order.shipping_method,
            "shipping_address": address_text(order.shipping_address),
            "billing_address": address_text(order.billing_address),
            "status": order.status,
            "order_url": self.order_url(order),
        }

    def line_snapshot(self, line: Any) -> dict[str, Any]:
        product = line.product  # None once the product was deleted
        url = absolute(product.get_absolute_url()) if product is not None else ""
        variant = ", ".join(f"{a.type}: {a.value}" for a in line.attributes.all())
        return {
            # The product's UPC where it has one (as in review snapshots), else the SKU.
            "sku": line.upc or line.partner_sku or "",
            "product_id": line.product_id,
            "name": line.title,
            "category": self.product_category(product) if product is not None else "",
            "qty": line.quantity,
            "price": line.unit_price_incl_tax,
            "total": line.line_price_incl_tax,
            "image_url": self.image_url(product) if product is not None else "",
            "url": url,
            "review_url": self.review_url(product) if product is not None else "",
            "variant": variant,
        }

    def customer_name(self, order: Any) -> tuple[str, str]:
        """The account's name, else the shipping (or billing) address's."""
        if order.user_id and (order.user.first_name or order.user.last_name):
            return order.user.first_name, order.user.last_name
        for address in (order.shipping_address, order.billing_address):
            if address is not None and (address.first_name or address.last_name):
                return address.first_name, address.last_name
        return "", ""

    def order_locale(self, order: Any) -> str:
        """The language the customer's emails are written in. Oscar does not store it:
        override this if your shop does (e.g. in an order attribute). "" keeps the
        contact's language, or the first of POSTPURCHASE["LANGUAGES"]."""
        return ""

    def order_url(self, order: Any) -> str:
        """The customer's order page: the account's order detail, or for a guest the
        anonymous-order page Oscar links from its own confirmation email."""
        if order.user_id:
            return _reverse("customer:order", order_number=str(order.number))
        return _reverse(
            "customer:anon-order",
            order_number=str(order.number),
            hash=order.verification_hash(),
        )

    def product_category(self, product: Any) -> str:
        category = product.get_categories().first()
        return category.name if category is not None else ""

    def image_url(self, product: Any) -> str:
        image = product.primary_image()
        if isinstance(image, dict):  # Oscar's placeholder for a product without images
            return ""
        return absolute(image.original.url) if image.original else ""

    def review_url(self, product: Any) -> str:
        parent = product.parent if product.is_child else product
        return _reverse("catalogue:reviews-add", product_slug=parent.slug, product_pk=parent.pk)

    # --- reviews -------------------------------------------------------------------

    def review_ref(self, review: Any) -> str:
        return f"oscar.productreview:{review.pk}"

    def review_snapshot(self, review: Any) -> dict[str, Any]:
        user = review.user
        email = review.email or (user.email if user is not None else "")
        product = review.product
        snapshot: dict[str, Any] = {
            "email": email,
            "first_name": user.first_name if user is not None else review.name.split(" ")[0],
            "rating": review.score,
            "title": review.title,
            "text": review.body,
        }
        if product is not None:
            snapshot["product"] = {
                "sku": product.upc or "",
                "name": product.get_title(),
                "url": absolute(product.get_absolute_url()),
            }
        order = self.reviewed_order(review, email)
        if order is not None:
            # Lets review_submitted end only that order's review requests.
            snapshot["order_ref"] = self.order_ref(order)
        return snapshot

    def reviewed_order(self, review: Any, email: str) -> Any:
        """The customer's latest order of the reviewed product, if any."""
        if review.product_id is None or not email:
            return None
        Order = get_model("order", "Order")
        return (
            Order.objects.filter(customer_orders(email), lines__product_id=review.product_id)
            .order_by("-date_placed", "-pk")
            .first()
        )

    def reviewed_skus(self, snapshot: dict[str, Any]) -> set[str]:
        by_product = {
            item["product_id"]: item["sku"]
            for item in snapshot.get("items", [])
            if item.get("product_id") is not None
        }
        if not by_product:
            return set()
        email = snapshot.get("email", "")
        ProductReview = get_model("reviews", "ProductReview")
        reviewed = ProductReview.objects.filter(
            Q(email__iexact=email) | Q(user__email__iexact=email),
            product_id__in=list(by_product),
        ).values_list("product_id", flat=True)
        return {by_product[pk] for pk in reviewed}

    # --- coupons -------------------------------------------------------------------

    def mirror_coupon(self, coupon: Any) -> None:
        vouchers.mirror(coupon)

    def coupon_expired(self, coupon: Any) -> None:
        vouchers.expire(coupon)


def customer_orders(email: str) -> Q:
    """Orders of the customer with this address, as a guest or through the account."""
    return Q(guest_email__iexact=email) | Q(user__email__iexact=email)
