"""How postpurchase reads this shop's orders and reviews (``POSTPURCHASE["ADAPTER"]``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.crypto import salted_hmac

from postpurchase.adapters import BaseAdapter
from postpurchase.conf import site_url

from .models import MARKETING_WORDING, Order, OrderItem, Product, Review
from .tips import category_tips

# The shop keeps no timezone per customer; the language is a good enough guess for
# the send-window logic (Russian -> Moscow, Ukrainian -> Kyiv).
LOCALE_TIMEZONES = {"ru": "Europe/Moscow", "uk": "Europe/Kyiv", "en": "UTC"}
CENT = Decimal("0.01")


def absolute(url: str) -> str:
    """Make a site-relative path absolute; leave full and data: URLs alone."""
    if not url or "://" in url or url.startswith("data:"):
        return url
    return site_url() + (url if url.startswith("/") else "/" + url)


def money(value: Decimal) -> str:
    """Decimal -> "4990.00": always two places, whatever the instance holds in memory."""
    return str(Decimal(value).quantize(CENT))


def product_url(product: Product) -> str:
    return absolute(product.get_absolute_url())


def referral_url(email: str) -> str:
    """The customer's personal "recommend us" link (the referral-invite recipe's
    ``referral_url``): the home page with a code derived from their address. The demo
    shop only builds the link; crediting referred orders is up to a real shop."""
    code = salted_hmac("shop.referral", email.strip().lower()).hexdigest()[:12]
    return f"{absolute(reverse('shop:home'))}?ref={code}"


#: Days one unit of a consumable lasts: the replenishment reminder's cycle, known from
#: the first order (without it the app learns cycles from repurchases).
REPLENISH_DAYS = {"AC-GAS-230": 30}

#: Categories whose products can be judged only in their season: (first month, last
#: month) of the season. Review requests for them wait for it (``ready_after``).
SEASONS = {"Tents": (5, 9)}


def ready_after(category: str, bought_on: date) -> str:
    """ISO date from which an item of ``category`` bought on ``bought_on`` can be
    judged: the start of its next season if bought out of season, else "" (at once)."""
    season = SEASONS.get(category)
    if season is None:
        return ""
    first, last = season
    if first <= bought_on.month <= last:
        return ""
    year = bought_on.year + (1 if bought_on.month > last else 0)
    return date(year, first, 1).isoformat()


class ShopAdapter(BaseAdapter):
    def replenish_days(self, item: dict[str, Any], snapshot: dict[str, Any]) -> float | None:
        return REPLENISH_DAYS.get(item.get("sku", "")) or super().replenish_days(item, snapshot)

    def order_snapshot(self, order: Order) -> dict[str, Any]:
        items = []
        for item in order.items.select_related("product"):
            product = item.product
            url = product_url(product) if product is not None else ""
            entry = {
                "sku": item.sku,
                "name": item.name,
                "category": item.category_name,
                "qty": item.qty,
                "price": money(item.price),
                "total": money(item.total),
                "image_url": absolute(product.image_url) if product is not None else "",
                "url": url,
                "review_url": url + "#review" if url else "",
                # Care advice for the usage-tips recipe, in the order's language.
                "tips": category_tips(item.category_name, order.locale),
            }
            # A tent bought in winter can be judged only in the camping season.
            ready = ready_after(item.category_name, order.created_at.date())
            if ready:
                entry["ready_after"] = ready
            items.append(entry)
        return {
            "ref": self.order_ref(order),
            "number": order.number,
            "email": order.email,
            "first_name": order.first_name,
            "last_name": order.last_name,
            "phone": order.phone,
            "locale": order.locale,
            "timezone": LOCALE_TIMEZONES.get(order.locale, "UTC"),
            "placed_at": order.created_at.isoformat(),
            "status": order.status,
            "currency": order.currency,
            "items": items,
            "subtotal": money(order.subtotal),
            "shipping_cost": money(order.shipping_cost),
            "discount": money(order.discount),
            "coupon_code": order.coupon_code,
            "total": money(order.total),
            "payment_method": order.get_payment_method_display(),
            "shipping_method": order.get_shipping_method_display(),
            "shipping_address": order.shipping_address,
            "delivery_estimate": (
                order.delivery_estimate.isoformat() if order.delivery_estimate else ""
            ),
            "tracking_url": order.tracking_url,
            "order_url": absolute(order.shareable_url()),
            "referral_url": referral_url(order.email),
            # The ticked box is an explicit consent, recorded with its wording; an
            # unticked one says nothing (the order is then a soft opt-in).
            **(
                {"marketing_consent": {"granted": True, "wording": MARKETING_WORDING}}
                if order.marketing_opt_in
                else {}
            ),
        }

    def review_snapshot(self, review: Review) -> dict[str, Any]:
        first_name = review.name.split()[0] if review.name.strip() else ""
        snapshot: dict[str, Any] = {
            "email": review.email,
            "first_name": first_name,
            "product": {
                "sku": review.product.sku,
                "name": review.product.name,
                "url": product_url(review.product),
            },
            "rating": review.rating,
            "text": review.text,
        }
        if review.order is not None:
            # The order's language; without an order the contact keeps the one it has.
            snapshot["locale"] = review.order.locale
            snapshot["order_ref"] = self.order_ref(review.order)
        return snapshot

    def reviewed_skus(self, snapshot: dict[str, Any]) -> set[str]:
        """The order's SKUs this customer (by email) has already reviewed."""
        skus = {str(item["sku"]) for item in snapshot.get("items", []) if item.get("sku")}
        email = snapshot.get("email") or ""
        if not skus or not email:
            return set()
        return set(
            Review.objects.filter(email__iexact=email, product__sku__in=skus).values_list(
                "product__sku", flat=True
            )
        )

    def recommendations(self, snapshot: dict[str, Any], limit: int = 3) -> list[dict[str, Any]]:
        """Unbought products from the order's categories first, then bestsellers."""
        bought = {item.get("sku") for item in snapshot.get("items", []) if item.get("sku")}
        categories = Product.objects.filter(sku__in=bought).values_list("category_id", flat=True)
        # Units sold, leaving out cancelled and refunded orders.
        sold = (
            OrderItem.objects.filter(product=OuterRef("pk"))
            .exclude(order__status__in=[Order.Status.CANCELLED, Order.Status.REFUNDED])
            .values("product")
            .annotate(n=Sum("qty"))
            .values("n")
        )
        candidates = (
            Product.objects.filter(is_active=True)
            .exclude(sku__in=bought)
            .annotate(sold=Coalesce(Subquery(sold), 0))
            .order_by("-sold", "pk")  # pk keeps ties stable: same order, same picks
        )
        picks = list(candidates.filter(category_id__in=list(categories))[:limit])
        if len(picks) < limit:
            picks += list(candidates.exclude(pk__in=[p.pk for p in picks])[: limit - len(picks)])
        return [
            {
                "sku": p.sku,
                "name": p.name,
                "url": product_url(p),
                "image_url": absolute(p.image_url),
                "price": money(p.price),
                "currency": p.currency,
            }
            for p in picks
        ]
