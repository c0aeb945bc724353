"""Referral programme invite (domain E10): three weeks after delivery, when the customer
has had time to like the purchase, invite them to recommend the shop.

The link comes from the snapshot key ``referral_url`` that the shop's adapter adds to
the order; without it the email explains the idea and points to the shop.
"""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

REFERRAL_INVITE = {
    "slug": "referral-invite",
    "name": _("Referral invite"),
    "description": _(
        "21 days after delivery, invites the customer to recommend the shop with their "
        "personal link (the order's referral_url). At most once every 90 days."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_period",
    "reentry_days": 90,
    "exit_events": ["order_refunded"],
    "templates": {"referral-invite": "Referral invite"},
    "steps": [
        {
            "type": "delay",
            "days": 21,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "21 days after delivery",
        },
        {
            "type": "email",
            "template": "referral-invite",
            "category": "marketing",
            "name": "Invite a friend",
        },
    ],
}
