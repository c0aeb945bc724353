"""Delivery: turning an EmailStep into emails at the ESP, and recording what happened.

- :mod:`.step` runs an EmailStep for a batch of enrollments (one Message each).
- :mod:`.batch` marks, sends (concurrently) and records a batch of emails.
- :mod:`.sender` holds the sending threads, their ESP connections and throttling.
- :mod:`.errors` sorts ESP errors: configuration, refused, throttled, transient.
- :mod:`.email` builds the AnymailMessage; :mod:`.content` the template context.
- :mod:`.resend` sends failed messages again for staff; :mod:`.compat` checks that the
  configured backend can take our emails.

The guarantees (what may be sent twice, when, and how it is recorded) are described in
docs/production.md.
"""

from postpurchase.delivery.compat import backend_problems
from postpurchase.delivery.compose import build_email, esp_name, from_email, recipient
from postpurchase.delivery.content import (
    email_context,
    items_left_to_review,
    render_message,
    step_coupon,
)
from postpurchase.delivery.resend import RESENDABLE, resend_messages
from postpurchase.delivery.step import ensure_messages, send_step_emails
from postpurchase.shutdown import request_stop

__all__ = [
    "RESENDABLE",
    "backend_problems",
    "build_email",
    "email_context",
    "ensure_messages",
    "esp_name",
    "from_email",
    "items_left_to_review",
    "recipient",
    "render_message",
    "request_stop",
    "resend_messages",
    "send_step_emails",
    "step_coupon",
]
