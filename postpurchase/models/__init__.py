"""Models: one module per concept."""

from .contacts import Contact, normalize_email
from .coupons import Coupon, CouponPolicy, CouponRedemption
from .email_templates import EmailContent, EmailTemplate
from .enrollments import Enrollment
from .events import Event
from .flows import Flow
from .messages import Message
from .nps import NPSResponse, NPSStep
from .records import StepRecord
from .steps import ConditionStep, DelayStep, EmailStep, NotifyStaffStep, SignalStep, Step

__all__ = [
    "ConditionStep",
    "Contact",
    "Coupon",
    "CouponPolicy",
    "CouponRedemption",
    "DelayStep",
    "EmailContent",
    "EmailStep",
    "EmailTemplate",
    "Enrollment",
    "Event",
    "Flow",
    "Message",
    "NPSResponse",
    "NPSStep",
    "NotifyStaffStep",
    "SignalStep",
    "Step",
    "StepRecord",
    "normalize_email",
]
