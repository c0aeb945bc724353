"""Oscar's signals, forwarded to postpurchase's inbound signals.

Oscar sends ``order_placed`` after the transaction that wrote the order has ended
(``OrderCreator.place_order``), and ``order_status_changed`` after ``Order.set_status``
saved the status, usually with no transaction around it. By then the order exists and
the customer has paid: an error raised here could only turn a placed order into an
error page, undo nothing, and keep Oscar from finishing its checkout (basket, session,
its own email). So these receivers never raise, whatever ``SIGNAL_ERRORS`` says: an
error is logged on the ``postpurchase.contrib.oscar`` logger with the order's id and a
traceback (``SIGNAL_ERRORS = "log"`` also logs it on ``postpurchase.events``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal, receiver
from oscar.apps.catalogue.reviews.signals import review_added
from oscar.apps.order.signals import order_placed as oscar_order_placed
from oscar.apps.order.signals import order_status_changed

from postpurchase import signals
from postpurchase.adapters import get_adapter
from postpurchase.conf import get_setting
from postpurchase.contrib.oscar.adapter import order_email
from postpurchase.contrib.oscar.vouchers import report_redemptions

logger = logging.getLogger("postpurchase.contrib.oscar")


def status_signal(status: str) -> tuple[str, Signal] | None:
    """The inbound signal an Oscar order status stands for (OSCAR_ORDER_STATUSES)."""
    event = get_setting("OSCAR_ORDER_STATUSES").get(status)
    if event is None:
        return None
    name = f"order_{event}"
    return name, signals.ORDER_SIGNALS[name]


def forward(name: str, signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal``; log instead of raising (see the module docstring)."""
    obj = kwargs.get("order") or kwargs.get("review")
    try:
        signal.send(sender=sender, **kwargs)
    except Exception:
        logger.exception(
            "postpurchase: forwarding Oscar's %s for %s %s failed; Oscar's action stands",
            name,
            type(obj).__name__,
            getattr(obj, "pk", None),
        )


@receiver(oscar_order_placed, dispatch_uid="postpurchase.oscar.order_placed")
def on_order_placed(sender: Any, order: Any, user: Any = None, **kwargs: Any) -> None:
    forward("order_placed", signals.order_placed, type(order), order=order)
    # An order placed with a status that already means something (e.g. "Paid" as
    # OSCAR_INITIAL_ORDER_STATUS) never changes to it, so it is announced now.
    found = status_signal(order.status)
    if found is not None:
        name, signal = found
        forward(name, signal, type(order), order=order, data={"status": order.status})
    try:
        report_redemptions(order, get_adapter().order_ref(order), order_email(order))
    except Exception:
        logger.exception("postpurchase: reporting the vouchers of Oscar order %s failed", order.pk)


@receiver(order_status_changed, dispatch_uid="postpurchase.oscar.order_status_changed")
def on_order_status_changed(
    sender: Any, order: Any, old_status: str = "", new_status: str = "", **kwargs: Any
) -> None:
    found = status_signal(new_status)
    if found is None:
        return
    name, signal = found
    data = {"previous_status": old_status, "status": new_status}
    forward(name, signal, type(order), order=order, data=data)


@receiver(review_added, dispatch_uid="postpurchase.oscar.review_added")
def on_review_added(sender: Any, review: Any, **kwargs: Any) -> None:
    forward("review_added", signals.review_submitted, type(review), review=review)
