"""Review request timed after delivery (domain E4, D2): a week after the parcel arrives,
ask for a review of each item; stop if the customer reviews first or gets a refund."""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

REVIEW_AFTER_DELIVERY = {
    "slug": "review-after-delivery",
    "name": _("Review request after delivery"),
    "description": _(
        "7 days after the order is delivered, asks for a review with a button per item. "
        "Stops if a review of that order arrives (review_submitted) or the order is refunded."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_order",
    "exit_events": ["review_submitted", "order_refunded"],
    "templates": {"review-after-delivery": "Review request after delivery"},
    "steps": [
        {
            "type": "delay",
            "days": 7,
            "relative_to": "trigger",
            **SEND_WINDOW,
            # Seasonal goods (the adapter's "ready_after") wait for their season too.
            "wait_for_readiness": True,
            "name": "7 days after delivery",
        },
        {
            "type": "email",
            "template": "review-after-delivery",
            "category": "marketing",
            "topic": "reviews",
            "name": "How do you like it?",
        },
    ],
}
