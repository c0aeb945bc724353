"""Models: one module per concept."""

from .contacts import Contact, normalize_email
from .email_templates import EmailContent, EmailTemplate
from .enrollments import Enrollment
from .events import Event
from .flows import Flow
from .messages import Message
from .steps import DelayStep, EmailStep, Step

__all__ = [
    "Contact",
    "DelayStep",
    "EmailContent",
    "EmailStep",
    "EmailTemplate",
    "Enrollment",
    "Event",
    "Flow",
    "Message",
    "Step",
    "normalize_email",
]
