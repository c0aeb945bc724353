"""Replenishment: when a customer will need a consumable again.

Per product a consumption cycle in days per unit: from the adapter or the item's
``replenish_days``, else ``REPLENISHMENT_CATEGORY_DAYS``, else learned from the shop's
own repurchases (the median, trusted after ``REPLENISHMENT_MIN_OBSERVATIONS``; the
category's when the product has too few). The predicted date (last order + cycle x
quantity) is stored per contact and product (``PurchasedProduct``), updated after each
order commits and by the periodic job, and ``due()`` finds the contacts to remind for
the ``replenishment_due`` date trigger. See docs/replenishment.md.
"""

from postpurchase.replenishment.finder import due
from postpurchase.replenishment.predict import (
    learn,
    refresh,
    repredict,
    update_contact,
    update_contacts,
)

__all__ = ["due", "learn", "refresh", "repredict", "update_contact", "update_contacts"]
