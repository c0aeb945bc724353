"""The recipes this app ships, in the order the admin and ``list`` show them."""

from .browse_abandonment import BROWSE_ABANDONMENT
from .cart_abandonment import CART_ABANDONMENT
from .nps import NPS_DETRACTOR_ALERT, NPS_PROMOTER_REVIEW, NPS_SURVEY
from .order_delivered import ORDER_DELIVERED
from .order_processing import ORDER_PROCESSING
from .order_shipped import ORDER_SHIPPED
from .post_purchase import POST_PURCHASE_SERIES
from .referral_invite import REFERRAL_INVITE
from .review_after_delivery import REVIEW_AFTER_DELIVERY
from .review_thank_you import REVIEW_THANK_YOU
from .social_invite import SOCIAL_INVITE
from .usage_tips import USAGE_TIPS

CATALOG = [
    POST_PURCHASE_SERIES,
    ORDER_PROCESSING,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    REVIEW_AFTER_DELIVERY,
    REVIEW_THANK_YOU,
    USAGE_TIPS,
    SOCIAL_INVITE,
    REFERRAL_INVITE,
    BROWSE_ABANDONMENT,
    CART_ABANDONMENT,
    NPS_SURVEY,
    NPS_DETRACTOR_ALERT,
    NPS_PROMOTER_REVIEW,
]
