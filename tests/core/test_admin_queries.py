"""Admin pages make a bounded number of queries, however many rows or steps they show."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from postpurchase import clock
from postpurchase.coupons import issue_coupon
from postpurchase.models import CouponPolicy, CouponRedemption, Message, NPSResponse
from postpurchase.testing.factories import (
    ConditionStepFactory,
    ContactFactory,
    DelayStepFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    EventFactory,
    FlowFactory,
    NotifyStaffStepFactory,
    SignalStepFactory,
)

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def flow_with_steps(n: int):
    """A flow of ``n`` steps of every kind, the conditions jumping to other steps."""
    flow = FlowFactory()
    template = EmailTemplateFactory()
    kinds = [
        lambda: EmailStepFactory(flow=flow, template=template),
        lambda: DelayStepFactory(flow=flow),
        lambda: ConditionStepFactory(flow=flow),
        lambda: NotifyStaffStepFactory(flow=flow),
        lambda: SignalStepFactory(flow=flow),
    ]
    steps = [kinds[i % len(kinds)]() for i in range(n)]
    first = steps[0]
    for step in steps:
        if hasattr(step, "then_step"):
            step.then_step = first
            step.save(update_fields=["then_step"])
    return flow


def test_the_flow_editor_does_not_query_per_step(admin_client):
    small, large = flow_with_steps(5), flow_with_steps(60)
    url = lambda flow: reverse("admin:postpurchase_flow_change", args=[flow.pk])  # noqa: E731
    queries(admin_client, url(small))  # warm caches (content types, session)
    assert queries(admin_client, url(large)) == queries(admin_client, url(small))


def rows(n: int) -> None:
    """``n`` customers, each with an enrollment, a message, a coupon (redeemed), an event
    and an NPS answer, spread over two flows."""
    flows = [FlowFactory(), FlowFactory()]
    steps = [EmailStepFactory(flow=flow) for flow in flows]
    policy = CouponPolicy.objects.create(
        name="10%", kind=CouponPolicy.Kind.PERCENT, percent=Decimal("10"), validity_days=30
    )
    for i in range(n):
        flow, step = flows[i % 2], steps[i % 2]
        contact = ContactFactory(email=f"row{n}-{i}@example.com")
        enrollment = EnrollmentFactory(flow=flow, contact=contact, order_ref=f"o:{i}")
        EventFactory(contact=contact, ref=f"o:{i}")
        message = Message.objects.create(
            enrollment=enrollment,
            step=step,
            contact=contact,
            to_email=contact.email,
            category="marketing",
            created_at=clock.now(),
        )
        coupon = issue_coupon(policy, contact, message=message)
        CouponRedemption.objects.create(
            coupon=coupon,
            order_ref=f"o:{i}",
            email=contact.email,
            cart_total=Decimal("100"),
            discount=Decimal("10"),
            redeemed_at=clock.now(),
        )
        NPSResponse.objects.create(
            message=message,
            contact=contact,
            enrollment=enrollment,
            flow=flow,
            order_ref=f"o:{i}",
            score=i % 11,
            category=NPSResponse.Category.PROMOTER,
            created_at=clock.now(),
            updated_at=clock.now(),
        )


CHANGELISTS = [
    "flow",
    "emailtemplate",
    "contact",
    "event",
    "enrollment",
    "message",
    "coupon",
    "couponpolicy",
    "couponredemption",
    "npsresponse",
]


def test_changelists_do_not_query_per_row(admin_client):
    urls = {name: reverse(f"admin:postpurchase_{name}_changelist") for name in CHANGELISTS}
    rows(5)
    for url in urls.values():
        queries(admin_client, url)  # warm caches (content types, session)
    few = {name: queries(admin_client, url) for name, url in urls.items()}
    rows(55)  # 60 rows in all, still one page (the admin shows 100)
    assert {name: queries(admin_client, url) for name, url in urls.items()} == few
