"""Models: one module per concept."""

from postpurchase.models.consent import (
    Consent,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    ErasedAddress,
    Purpose,
)
from postpurchase.models.contacts import Contact, EmailFrequency, normalize_email
from postpurchase.models.conversions import Conversion
from postpurchase.models.coupons import Coupon, CouponPolicy, CouponRedemption
from postpurchase.models.email_templates import EmailBlock, EmailContent, EmailTemplate
from postpurchase.models.enrollments import Enrollment
from postpurchase.models.events import Event
from postpurchase.models.flows import Flow
from postpurchase.models.incidents import Incident
from postpurchase.models.messages import Message
from postpurchase.models.nps import NPSResponse, NPSStep
from postpurchase.models.recommendations import HistoryCursor, ProductDay, ProductPair, ProductStat
from postpurchase.models.records import StepRecord
from postpurchase.models.replenishment import CycleSource, LearnedCycle, PurchasedProduct
from postpurchase.models.steps import (
    ConditionStep,
    DelayStep,
    EmailStep,
    MarketingTopic,
    NotifyStaffStep,
    SignalStep,
    Step,
)
from postpurchase.models.tracking import MessageEvent

__all__ = [
    "ConditionStep",
    "Consent",
    "ConsentRecord",
    "ConsentSource",
    "ConsentState",
    "Contact",
    "Conversion",
    "CycleSource",
    "Coupon",
    "CouponPolicy",
    "CouponRedemption",
    "DelayStep",
    "EmailBlock",
    "EmailContent",
    "EmailFrequency",
    "EmailStep",
    "EmailTemplate",
    "Enrollment",
    "ErasedAddress",
    "Event",
    "Flow",
    "Incident",
    "MarketingTopic",
    "HistoryCursor",
    "LearnedCycle",
    "Message",
    "MessageEvent",
    "NPSResponse",
    "NPSStep",
    "NotifyStaffStep",
    "Purpose",
    "ProductDay",
    "ProductPair",
    "ProductStat",
    "PurchasedProduct",
    "SignalStep",
    "Step",
    "StepRecord",
    "normalize_email",
]
