"""Social invite (domain E9): two weeks after delivery, invite the customer to follow
the brand's profiles and share a photo of the purchase."""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

SOCIAL_INVITE = {
    "slug": "social-invite",
    "name": _("Social invite"),
    "description": _(
        "14 days after delivery, invites the customer to follow the shop's social "
        "profiles (BRAND social_links) and share a photo. Once per customer."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_contact",
    "exit_events": ["order_refunded"],
    "templates": {"social-invite": "Social invite"},
    "steps": [
        {
            "type": "delay",
            "days": 14,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "14 days after delivery",
        },
        {
            "type": "email",
            "template": "social-invite",
            "category": "marketing",
            "name": "Join us",
        },
    ],
}
