"""Lifecycle recipes (D3, E3, E8, E11): flows started by date triggers
(:mod:`postpurchase.lifecycle`) rather than by an event the shop sends. Each first waits
for the customer's daytime: a date trigger fires at local midnight."""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

#: The first step of each: the trigger's moment is local midnight; send in the daytime.
DAYTIME = {"type": "delay", "relative_to": "trigger", **SEND_WINDOW, "name": "In the daytime"}

WINBACK = {
    "slug": "winback",
    "name": _("Winback: no order for 90 days"),
    "description": _(
        "90 days after the customer's last order: a 10 percent discount; 15 days later, "
        "if the code went unused, 15 percent; 15 days after that, free shipping. Each "
        "code is new and replaces the earlier one. Ends as soon as the customer orders."
    ),
    "trigger": "winback_due",
    "trigger_days": 90,
    "reentry": "once_per_order",
    "exit_events": ["order_placed"],
    "templates": {
        "winback-1": "Winback: we miss you (10 %)",
        "winback-2": "Winback: a bigger discount (15 %)",
        "winback-3": "Winback: free shipping",
    },
    "steps": [
        DAYTIME,
        {
            "type": "email",
            "template": "winback-1",
            "category": "marketing",
            "name": "We miss you: 10 % off",
            "coupon_policy": {
                "name": "Winback: 10% off",
                "kind": "percent",
                "percent": "10",
                "validity_days": 14,
                "code_prefix": "WB-",
            },
        },
        {
            "type": "delay",
            "days": 15,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "15 days later",
        },
        {
            "type": "email",
            "template": "winback-2",
            "category": "marketing",
            "name": "15 % off, if the first code went unused",
            "coupon_escalation": "if_unused",
            "withdraw_previous": True,
            "coupon_policy": {
                "name": "Winback: 15% off",
                "kind": "percent",
                "percent": "15",
                "validity_days": 14,
                "code_prefix": "WB-",
            },
        },
        {
            "type": "delay",
            "days": 30,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "30 days after the first email",
        },
        {
            "type": "email",
            "template": "winback-3",
            "category": "marketing",
            "name": "Free shipping, if the codes went unused",
            "coupon_escalation": "if_unused",
            "withdraw_previous": True,
            "coupon_policy": {
                "name": "Winback: free shipping",
                "kind": "free_shipping",
                "validity_days": 14,
                "code_prefix": "WB-",
            },
        },
    ],
}

BIRTHDAY = {
    "slug": "birthday",
    "name": _("Birthday gift"),
    "description": _(
        "Three days before the customer's birthday (from Contact.birthday, which the "
        "adapter fills), a gift code valid for the birthday week. Once a year."
    ),
    "trigger": "birthday",
    "trigger_days": 3,
    "reentry": "once_per_order",
    # Only the hours between the trigger (local midnight) and the daytime send.
    "exit_events": ["order_placed"],
    "templates": {"birthday": "Birthday gift"},
    "steps": [
        DAYTIME,
        {
            "type": "email",
            "template": "birthday",
            "category": "marketing",
            "name": "Happy birthday: a gift for the week",
            "coupon_policy": {
                "name": "Birthday: 15% off for the birthday week",
                "kind": "percent",
                "percent": "15",
                "validity_days": 7,
                "code_prefix": "BDAY-",
            },
        },
    ],
}

COUPON_EXPIRING = {
    "slug": "coupon-expiring",
    "name": _("Coupon about to expire"),
    "description": _(
        "Three days before the last valid day of a code the customer has not used, a "
        "reminder with the code and the date. Once per code."
    ),
    "trigger": "coupon_expiring",
    "trigger_days": 3,
    "reentry": "once_per_order",
    "exit_events": ["order_placed"],
    "templates": {"coupon-expiring": "Coupon about to expire"},
    "steps": [
        DAYTIME,
        {
            "type": "email",
            "template": "coupon-expiring",
            "category": "marketing",
            "name": "Your code expires soon",
        },
    ],
}

PICKED_FOR_YOU = {
    "slug": "picked-for-you",
    "name": _("We picked something for you (a month later)"),
    "description": _(
        "A month after each order, products picked for the customer (the recommendations "
        "for that order). Stops if the order is refunded."
    ),
    "trigger": "order_followup_due",
    "trigger_days": 30,
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "templates": {"picked-for-you": "We picked something for you"},
    "steps": [
        DAYTIME,
        {
            "type": "email",
            "template": "picked-for-you",
            "category": "marketing",
            "name": "We picked something for you",
        },
    ],
}

REPLENISHMENT_REMINDER = {
    "slug": "replenishment-reminder",
    "name": _("Replenishment reminder"),
    "description": _(
        "A week before the customer is predicted to run out of a product, and again on "
        "the predicted day. Ends when the customer orders."
    ),
    "trigger": "replenishment_due",
    "trigger_days": 7,
    "reentry": "once_per_order",
    "exit_events": ["order_placed"],
    "templates": {
        "replenishment-before": "Replenishment: a week before",
        "replenishment-today": "Replenishment: on the day",
    },
    "steps": [
        DAYTIME,
        {
            "type": "email",
            "template": "replenishment-before",
            "category": "marketing",
            "name": "Running low?",
        },
        {
            "type": "delay",
            "days": 7,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "On the predicted day",
        },
        {
            "type": "email",
            "template": "replenishment-today",
            "category": "marketing",
            "name": "Time to stock up",
        },
    ],
}

LIFECYCLE_RECIPES = [WINBACK, BIRTHDAY, COUPON_EXPIRING, PICKED_FOR_YOU, REPLENISHMENT_REMINDER]
