"""Order status (domain E2): the order is paid and being prepared."""

from django.utils.translation import gettext_noop as _

ORDER_PROCESSING = {
    "slug": "order-processing",
    "name": _("Order status: processing"),
    "description": _(
        "Transactional. When the order is paid (order_paid), tells the customer that the "
        "order is being prepared, with its details and the expected delivery date."
    ),
    "trigger": "order_paid",
    "reentry": "once_per_order",
    "exit_events": ["order_cancelled", "order_refunded"],
    "templates": {"order-processing": "Order status: being prepared"},
    "steps": [
        {
            "type": "email",
            "template": "order-processing",
            "category": "transactional",
            "topic": "",
            "name": "We are preparing your order",
        },
    ],
}
