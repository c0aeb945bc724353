"""Models: one module per concept."""

from postpurchase.models.contacts import Contact, normalize_email
from postpurchase.models.coupons import Coupon, CouponPolicy, CouponRedemption
from postpurchase.models.email_templates import EmailContent, EmailTemplate
from postpurchase.models.enrollments import Enrollment
from postpurchase.models.events import Event
from postpurchase.models.flows import Flow
from postpurchase.models.messages import Message
from postpurchase.models.nps import NPSResponse, NPSStep
from postpurchase.models.recommendations import HistoryCursor, ProductDay, ProductPair, ProductStat
from postpurchase.models.records import StepRecord
from postpurchase.models.replenishment import CycleSource, LearnedCycle, PurchasedProduct
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
    "CycleSource",
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
    "HistoryCursor",
    "LearnedCycle",
    "Message",
    "MessageEvent",
    "NPSResponse",
    "NPSStep",
    "NotifyStaffStep",
    "ProductDay",
    "ProductPair",
    "ProductStat",
    "PurchasedProduct",
    "SignalStep",
    "Step",
    "StepRecord",
    "normalize_email",
]
