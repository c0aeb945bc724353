"""Order status changes and the postpurchase signal each one sends."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from postpurchase import signals

from .models import Order

Status = Order.Status

#: Which inbound postpurchase signal a move *to* a status sends. "processing" means the
#: shop accepted (and, for card orders, received payment for) the order.
STATUS_SIGNALS: dict[str, Signal] = {
    Status.PROCESSING: signals.order_paid,
    Status.SHIPPED: signals.order_shipped,
    Status.DELIVERED: signals.order_delivered,
    Status.CANCELLED: signals.order_cancelled,
    Status.REFUNDED: signals.order_refunded,
}


def set_status(order: Order, status: str) -> bool:
    """Move ``order`` to ``status``, save it and send the matching signal.

    Returns False (and sends nothing) when the order already has that status, so a
    repeated admin action never sends a second "shipped" email. Runs in a transaction:
    postpurchase defers its work to ``on_commit``, so a rollback sends nothing.
    """
    if status not in Status.values:
        raise ValueError(f"Unknown order status {status!r}")
    with transaction.atomic():
        # Compare with the stored status under a row lock: two staff members pressing
        # "mark shipped" at once must produce one signal, not two.
        current = (
            Order.objects.select_for_update().values_list("status", flat=True).get(pk=order.pk)
        )
        if current == status:
            order.status = status
            return False
        order.status = status
        order.save()
        signal = STATUS_SIGNALS.get(status)
        if signal is not None:
            data = {"previous_status": current}
            if status == Status.SHIPPED and order.tracking_url:
                data["tracking_url"] = order.tracking_url
            signal.send(sender=Order, order=order, data=data)
    return True
