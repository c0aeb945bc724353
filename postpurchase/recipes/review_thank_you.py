"""Thank you for a review, with the promised coupon (domain D1 step 4, E4): when a
customer submits a review (``review_submitted``), send a thank-you carrying a personal
single-use code. Once per order, or once per review when the review has no order, so a
review signal that fires twice never issues two codes.

The reward goes to every review, whatever its rating (the FTC rule on reviews, 16 CFR
465, forbids rewards that depend on what a review says), and only for reviews on the
shop's own site (``review_submitted``): Google's policy forbids incentives for Google
reviews. See docs/consent.md."""

from django.utils.translation import gettext_noop as _

REVIEW_THANK_YOU = {
    "slug": "review-thank-you",
    "name": _("Thank you for your review"),
    "description": _(  # xgettext:no-python-format (a literal "%", never formatted)
        "When a review is submitted on the shop's own site, thanks the customer at once "
        "with a personal single-use 15% coupon, whatever the rating. Once per order (once "
        "per review if it has no order); stops if the order is refunded."
    ),
    "trigger": "review_submitted",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "templates": {"review-thank-you": "Thank you for your review"},
    "steps": [
        {
            "type": "email",
            "template": "review-thank-you",
            "category": "marketing",
            "name": "Thank you for your review",
            # The coupon the review request promised (domain D1 step 4).
            "coupon_policy": {
                "name": "Review thank-you: 15% off the next order",
                "kind": "percent",
                "percent": "15",
                "validity_days": 30,
                "uses_per_code": 1,
                "code_prefix": "THANKS-",
                "code_length": 12,
            },
        },
    ],
}
