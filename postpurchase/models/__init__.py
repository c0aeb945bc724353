"""Models: one module per concept."""

from .contacts import Contact, normalize_email
from .email_templates import EmailContent, EmailTemplate
from .enrollments import Enrollment
from .events import Event
from .flows import Flow
from .messages import Message
from .records import StepRecord
from .steps import ConditionStep, DelayStep, EmailStep, NotifyStaffStep, SignalStep, Step

__all__ = [
    "ConditionStep",
    "Contact",
    "DelayStep",
    "EmailContent",
    "EmailStep",
    "EmailTemplate",
    "Enrollment",
    "Event",
    "Flow",
    "Message",
    "NotifyStaffStep",
    "SignalStep",
    "Step",
    "StepRecord",
    "normalize_email",
]
