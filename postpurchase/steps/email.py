"""``EmailStep``: one email to the contact, sent by :mod:`postpurchase.delivery`."""

from postpurchase.delivery import send_step_emails
from postpurchase.models import EmailStep
from postpurchase.models.steps import register_behaviour

register_behaviour(EmailStep, execute_batch=send_step_emails)
