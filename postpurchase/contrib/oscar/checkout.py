"""Turning off Oscar's own order confirmation where postpurchase's thank-you replaces it.

Oscar's checkout mails ``ORDER_PLACED`` from ``OrderPlacementMixin.send_order_placed_email``
(its dispatcher sends a guest's email even when the templates are empty, so emptying
the ``ORDER_PLACED`` communication type is no way to stop it). Fork Oscar's checkout app
and put this mixin in front of its ``OrderPlacementMixin`` (docs/oscar.md)::

    # yourshop/checkout/mixins.py
    from oscar.apps.checkout import mixins

    from postpurchase.contrib.oscar.checkout import NoOscarConfirmationMixin


    class OrderPlacementMixin(NoOscarConfirmationMixin, mixins.OrderPlacementMixin):
        pass
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("postpurchase.contrib.oscar")


class NoOscarConfirmationMixin:
    """Oscar's checkout sends no ``ORDER_PLACED`` email: the thank-you of the
    postpurchase flow triggered by ``order_placed`` is the confirmation."""

    def send_order_placed_email(self, order: Any) -> None:
        logger.debug("postpurchase: Oscar's confirmation of order %s left out", order.pk)
