"""Browse abandonment (domain D3): a customer looked at a product and did not put
anything in the cart. A reminder after 20 minutes, an offer after 24 hours.

The shop sends ``product_viewed`` with the product in ``data`` (name, url, image_url,
price, currency). Adding to the cart (``cart_updated``) or ordering ends the flow.
"""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

BROWSE_ABANDONMENT = {
    "slug": "browse-abandonment",
    "name": _("Browse abandonment"),
    "description": _(
        "After a product view (product_viewed) with no cart: a reminder of the product "
        "after 20 minutes, an offer after 24 hours. Ends when the customer adds to the "
        "cart or orders. At most once a day per customer."
    ),
    "trigger": "product_viewed",
    "reentry": "once_per_period",
    "reentry_days": 1,
    "exit_events": ["cart_updated", "order_placed"],
    "templates": {
        "browse-abandonment-reminder": "Browse abandonment: reminder",
        "browse-abandonment-offer": "Browse abandonment: offer",
    },
    "steps": [
        {
            "type": "delay",
            "minutes": 20,
            "relative_to": "trigger",
            "name": "20 minutes after the view",
        },
        {
            "type": "email",
            "template": "browse-abandonment-reminder",
            "category": "marketing",
            "name": "Still thinking about it?",
        },
        {
            "type": "delay",
            "days": 1,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "24 hours after the view",
        },
        {
            "type": "email",
            "template": "browse-abandonment-offer",
            "category": "marketing",
            "name": "An offer",
        },
    ],
}
