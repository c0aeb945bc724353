"""NPS (domain E5): ask how likely the customer is to recommend the shop, then follow
up: detractors are reported to customer service, and every respondent who ticks "I
would like to write a public review" gets the review links, whatever the score (asking
only happy customers is review gating, which Google's policy forbids; docs/consent.md).
The answer is the ``nps_submitted`` event; the follow-ups filter it on its data
(``category``, ``review_opt_in``)."""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

NPS_SURVEY = {
    "slug": "nps-survey",
    "name": _("NPS survey"),
    "description": _(
        "10 days after the order is delivered, asks how likely the customer is to "
        "recommend the shop (0-10). The answer starts the detractor alert and, for "
        "respondents who ask for it, the public review request. Stops if the order is "
        "refunded."
    ),
    "trigger": "order_delivered",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "templates": {"nps-survey": "NPS survey"},
    "steps": [
        {
            "type": "delay",
            "days": 10,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "10 days after delivery",
        },
        {
            "type": "nps",
            "template": "nps-survey",
            "category": "marketing",
            "topic": "reviews",
            "name": "How likely are you to recommend us?",
        },
    ],
}

DETRACTOR_BODY = (
    "A customer gave us {{ event.score }} out of 10 (a detractor) and may need help.\n\n"
    "Customer: {{ contact.full_name|default:contact.email }} <{{ contact.email }}>"
    "{% if order.phone %}, {{ order.phone }}{% endif %}\n"
    "Order: {% if order.number %}#{{ order.number }}"
    '{% else %}{{ enrollment.order_ref|default:"-" }}{% endif %}'
    "{% if order.total %}, {{ order.total }} {{ order.currency }}{% endif %}"
    "{% if order.placed_at %}, placed {{ order.placed_at }}{% endif %}\n"
    "{% if order.items.0 %}Items:{% for item in order.items %}\n"
    "  - {{ item.name }}{% if item.qty %} x {{ item.qty }}{% endif %}"
    "{% endfor %}\n{% endif %}\n"
    "Comment:\n"
    '{{ event.comment|default:"(no comment)" }}\n\n'
    "The response in the admin: {{ event.response_url|default:admin_url }}\n"
)

NPS_DETRACTOR_ALERT = {
    "slug": "nps-detractor-alert",
    "name": _("NPS: detractor alert to customer service"),
    "description": _(
        "When a customer answers the NPS survey with 0-6, emails customer service "
        '(POSTPURCHASE["STAFF_EMAILS"] or the step\'s recipients) with the customer, the '
        "order, the comment and a link to the response in the admin."
    ),
    "trigger": "nps_submitted",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "filter_condition": "event_data",
    "filter_field": "category",
    "filter_operator": "==",
    "filter_value": "detractor",
    "templates": {},
    "steps": [
        {
            "type": "notify_staff",
            "name": "Alert customer service",
            "subject": "NPS {{ event.score }}/10 from {{ contact.email }}"
            "{% if order.number %} (order #{{ order.number }}){% endif %}",
            "body": DETRACTOR_BODY,
        },
    ],
}

NPS_PROMOTER_REVIEW = {
    "slug": "nps-promoter-review",
    "name": _("NPS: public review request"),
    "description": _(
        "When a respondent of the NPS survey, whatever their score, ticks that they would "
        "write a public review, sends them the links to the platforms of "
        'POSTPURCHASE["REVIEW_PLATFORMS"]. No reward: the same email for every score.'
    ),
    "trigger": "nps_submitted",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "filter_condition": "event_data",
    "filter_field": "review_opt_in",
    "filter_operator": "==",
    "filter_value": "true",
    "templates": {"nps-promoter-review": "NPS public review request"},
    "steps": [
        {
            "type": "delay",
            "hours": 1,
            "relative_to": "trigger",
            **SEND_WINDOW,
            "name": "An hour after the answer",
        },
        {
            "type": "email",
            "template": "nps-promoter-review",
            "category": "marketing",
            "topic": "reviews",
            "name": "Share it publicly",
        },
    ],
}
