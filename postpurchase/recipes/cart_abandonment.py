"""Cart abandonment (domain D3): a customer filled a cart and did not order. The cart and
the manager's contacts after 20 minutes, an offer after 24 hours.

The shop sends ``cart_updated`` with the cart in ``data`` (items, subtotal, currency,
cart_url) while the cart has items, and ``cart_emptied`` when it becomes empty.
Ordering (``order_placed``) or emptying the cart ends the flow.
"""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

CART_ABANDONMENT = {
    "slug": "cart-abandonment",
    "name": _("Cart abandonment"),
    "description": _(
        "After a cart update (cart_updated) with no order: the cart and the shop's "
        "contacts after 20 minutes, an offer after 24 hours. Ends when the customer "
        "orders or empties the cart. At most once a day per customer."
    ),
    "trigger": "cart_updated",
    "reentry": "once_per_period",
    "reentry_days": 1,
    "exit_events": ["order_placed", "cart_emptied"],
    "templates": {
        "cart-abandonment-reminder": "Cart abandonment: reminder",
        "cart-abandonment-offer": "Cart abandonment: offer",
    },
    "steps": [
        {
            "type": "delay",
            "minutes": 20,
            "relative_to": "trigger",
            "name": "20 minutes after the cart update",
        },
        {
            "type": "email",
            "template": "cart-abandonment-reminder",
            "category": "marketing",
            "name": "You left something in your cart",
        },
        {
            "type": "delay",
            "days": 1,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "24 hours after the cart update",
        },
        {
            "type": "email",
            "template": "cart-abandonment-offer",
            "category": "marketing",
            "name": "An offer for your cart",
        },
    ],
}
