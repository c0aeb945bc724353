"""Oscar offer conditions that bind a mirrored code to its customer.

Proxies of Oscar's own count and value conditions (no tables): a basket qualifies when
Oscar's condition holds *and* the basket's owner may use the code
(:func:`postpurchase.contrib.oscar.vouchers.may_use`). Mirrored vouchers name them in
their condition's ``proxy_class``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_classes

from postpurchase.contrib.oscar.vouchers import may_use

CountCondition, ValueCondition = get_classes(
    "offer.conditions", ["CountCondition", "ValueCondition"]
)


class BoundToCustomer:
    """The customer check in front of Oscar's condition."""

    def is_satisfied(self, offer: Any, basket: Any) -> bool:
        return may_use(offer, basket) and super().is_satisfied(offer, basket)

    def is_partially_satisfied(self, offer: Any, basket: Any) -> bool:
        return may_use(offer, basket) and super().is_partially_satisfied(offer, basket)

    def get_upsell_message(self, offer: Any, basket: Any):
        if not may_use(offer, basket):
            return None
        return super().get_upsell_message(offer, basket)


class CustomerCountCondition(BoundToCustomer, CountCondition):
    class Meta:
        proxy = True
        app_label = "postpurchase_oscar"
        verbose_name = _("Post-purchase coupon: the customer's basket")


class CustomerValueCondition(BoundToCustomer, ValueCondition):
    class Meta:
        proxy = True
        app_label = "postpurchase_oscar"
        verbose_name = _("Post-purchase coupon: the customer's basket, from a minimum")
