"""NPS (domain E5): ask how likely the customer is to recommend the shop, then branch by
the answer: detractors are reported to customer service, promoters are asked for a
public review. The answer is the ``nps_submitted`` event; the two follow-ups filter it
on its data (``category``)."""

from django.utils.translation import gettext_noop as _

from postpurchase.recipes.timing import SEND_WINDOW

NPS_SURVEY = {
    "slug": "nps-survey",
    "name": _("NPS survey"),
    "description": _(
        "10 days after the order is delivered, asks how likely the customer is to "
        "recommend the shop (0-10). The answer starts the detractor alert or the "
        "promoter review request. Stops if the order is refunded."
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
    "name": _("NPS: promoter review request"),
    "description": _(
        "When a customer answers the NPS survey with 9 or 10, thanks them and asks for a "
        'public review on the platforms of POSTPURCHASE["REVIEW_PLATFORMS"].'
    ),
    "trigger": "nps_submitted",
    "reentry": "once_per_order",
    "exit_events": ["order_refunded"],
    "filter_condition": "event_data",
    "filter_field": "category",
    "filter_operator": "==",
    "filter_value": "promoter",
    "templates": {"nps-promoter-review": "NPS promoter review request"},
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
            "name": "Share it publicly",
        },
    ],
}
