"""The recipes this app ships, in the order the admin and ``list`` show them."""

from postpurchase.recipes.browse_abandonment import BROWSE_ABANDONMENT
from postpurchase.recipes.cart_abandonment import CART_ABANDONMENT
from postpurchase.recipes.lifecycle import LIFECYCLE_RECIPES
from postpurchase.recipes.nps import NPS_DETRACTOR_ALERT, NPS_PROMOTER_REVIEW, NPS_SURVEY
from postpurchase.recipes.order_delivered import ORDER_DELIVERED
from postpurchase.recipes.order_processing import ORDER_PROCESSING
from postpurchase.recipes.order_shipped import ORDER_SHIPPED
from postpurchase.recipes.post_purchase import POST_PURCHASE_SERIES
from postpurchase.recipes.referral_invite import REFERRAL_INVITE
from postpurchase.recipes.review_after_delivery import REVIEW_AFTER_DELIVERY
from postpurchase.recipes.review_thank_you import REVIEW_THANK_YOU
from postpurchase.recipes.social_invite import SOCIAL_INVITE
from postpurchase.recipes.usage_tips import USAGE_TIPS

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
    *LIFECYCLE_RECIPES,
]
