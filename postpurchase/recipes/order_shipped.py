"""Order status (domain E2): the order has left the warehouse, with a tracking link."""

from django.utils.translation import gettext_noop as _

ORDER_SHIPPED = {
    "slug": "order-shipped",
    "name": _("Order status: shipped"),
    "description": _(
        "Transactional. When the order ships (order_shipped), sends the tracking link "
        "(the event's tracking_url, else the order's) and the expected delivery date."
    ),
    "trigger": "order_shipped",
    "reentry": "once_per_order",
    "exit_events": ["order_cancelled", "order_refunded"],
    "templates": {"order-shipped": "Order status: shipped"},
    "steps": [
        {
            "type": "email",
            "template": "order-shipped",
            "category": "transactional",
            "topic": "",
            "name": "Your order is on its way",
        },
    ],
}
