"""Order status (domain E2): the order has arrived; enjoy it, here is how to reach us."""

from django.utils.translation import gettext_noop as _

ORDER_DELIVERED = {
    "slug": "order-delivered",
    "name": _("Order status: delivered"),
    "description": _(
        "Transactional. When the order is delivered (order_delivered), confirms it, with "
        "the items and how to reach support about returns or care."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "templates": {"order-delivered": "Order status: delivered"},
    "steps": [
        {
            "type": "email",
            "template": "order-delivered",
            "category": "transactional",
            "topic": "",
            "name": "Your order has arrived",
        },
    ],
}
