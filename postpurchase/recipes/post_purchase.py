"""The canonical post-purchase series (domain D1): thanks at once, a "come back" email
with related products after two days, a review request after seven."""

from django.utils.translation import gettext_noop as _

POST_PURCHASE_SERIES = {
    "slug": "post-purchase-series",
    "name": _("Post-purchase series"),
    "description": _(  # xgettext:no-python-format (a literal "%", never formatted)
        "Thank-you with the order details at once; after 2 days a note with related "
        "products and a personal 10% coupon; after 7 days a review request. Stops if the "
        "order is cancelled or refunded."
    ),
    "trigger": "order_placed",
    "reentry": "once_per_order",
    "exit_events": ["order_cancelled", "order_refunded"],
    "templates": {
        "thank-you": "Thank you for your order",
        "come-back": "Come back: related products",
        "review-request": "Review request",
    },
    "steps": [
        {
            "type": "email",
            "template": "thank-you",
            "category": "transactional",
            "topic": "",
            "name": "Thank you",
        },
        {"type": "delay", "days": 2, "relative_to": "trigger", "name": "2 days after the order"},
        {
            "type": "email",
            "template": "come-back",
            "category": "marketing",
            "name": "Come back",
            # A fresh single-use code for each customer (domain E3), shown in the email.
            "coupon_policy": {
                "name": "Post-purchase: 10% off the next order",
                "kind": "percent",
                "percent": "10",
                "validity_days": 30,
                "uses_per_code": 1,
                "code_prefix": "BACK-",
                "code_length": 12,
            },
        },
        {
            "type": "delay",
            "days": 7,
            "relative_to": "trigger",
            # Seasonal goods (the adapter's "ready_after") wait for their season too.
            "wait_for_readiness": True,
            "name": "7 days after the order",
        },
        {
            "type": "email",
            "template": "review-request",
            "category": "marketing",
            "topic": "reviews",
            "name": "Review request",
        },
    ],
}
