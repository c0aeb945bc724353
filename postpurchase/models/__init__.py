"""Models: one module per concept."""

from postpurchase.models.contacts import Contact, normalize_email
from postpurchase.models.conversions import Conversion
from postpurchase.models.coupons import Coupon, CouponPolicy, CouponRedemption
from postpurchase.models.email_templates import EmailContent, EmailTemplate
from postpurchase.models.enrollments import Enrollment
from postpurchase.models.events import Event
from postpurchase.models.flows import Flow
from postpurchase.models.messages import Message
from postpurchase.models.nps import NPSResponse, NPSStep
from postpurchase.models.records import StepRecord
from postpurchase.models.steps import (
    ConditionStep,
    DelayStep,
    EmailStep,
    NotifyStaffStep,
    SignalStep,
    Step,
)
from postpurchase.models.tracking import MessageEvent

__all__ = [
    "ConditionStep",
    "Contact",
    "Conversion",
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
    "MessageEvent",
    "NPSResponse",
    "NPSStep",
    "NotifyStaffStep",
    "SignalStep",
    "Step",
    "StepRecord",
    "normalize_email",
]
