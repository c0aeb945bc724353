"""Usage tips and care instructions (domain E6), 3 days after delivery.

The tips come from the order snapshot: each item may carry ``tips`` (a short text in
the order's language) and ``tips_url`` (a longer guide). The shop's adapter supplies
them; orders where no item has tips leave the flow at the condition.
"""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

USAGE_TIPS = {
    "slug": "usage-tips",
    "name": _("Usage tips after delivery"),
    "description": _(
        "3 days after delivery, sends care and usage tips for the items bought (the "
        "adapter's per-item tips). Orders without tips leave the flow at once."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "templates": {"usage-tips": "Usage and care tips"},
    "steps": [
        {
            "type": "condition",
            "name": "Does any item have tips?",
            "condition": "item_field_present",
            "field": "tips",
            "then_action": "continue",
            "else_action": "exit",
            "else_reason": "no item has tips",
        },
        {
            "type": "delay",
            "days": 3,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "3 days after delivery",
        },
        {
            "type": "email",
            "template": "usage-tips",
            "category": "marketing",
            "topic": "tips",
            "name": "Tips for your purchase",
        },
    ],
}
