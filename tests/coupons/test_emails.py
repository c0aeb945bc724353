"""An email step with a coupon policy sends a fresh code; retries never issue twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import engine
from postpurchase.models import Coupon, Message
from postpurchase.testing.factories import (
    ContactFactory,
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
)

pytestmark = pytest.mark.django_db

BODY = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>"
    "CODE[{{ coupon.code }}] VALUE[{{ coupon.value_text }}] UNTIL[{{ coupon.expires_on|date }}]"
    "</mj-text></mj-column></mj-section>"
    '{% include "postpurchase/email/partials/coupon.mjml" with heading="Gift" %}'
    "</mj-body></mjml>"
)


def coupon_template(language="en"):
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, language=language, body=BODY)
    return template


def code_in(message) -> str:
    return message.body.split("CODE[", 1)[1].split("]", 1)[0]


def test_step_with_a_policy_sends_a_code_bound_to_the_contact(policy, frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=coupon_template(), coupon_policy=policy)
    enrollment = EnrollmentFactory(flow=flow, contact__email="olga@example.com")

    engine.run_due()

    coupon = Coupon.objects.get()
    assert coupon.contact == enrollment.contact
    assert coupon.message == Message.objects.get()
    [sent] = mail.outbox
    assert code_in(sent) == coupon.code
    assert "VALUE[10%]" in sent.body
    html = sent.alternatives[0][0]
    assert coupon.code in html
    assert "10% off your next order" in html
    assert "For orders from" in html
    assert "Valid until December 23, 2026" in html  # 30 days on, shown in English


def test_two_steps_of_a_series_send_different_codes(policy, frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow, position=1, template=coupon_template(), coupon_policy=policy)
    EmailStepFactory(flow=flow, position=2, template=coupon_template(), coupon_policy=policy)
    EnrollmentFactory(flow=flow)

    engine.run_due()

    assert len(mail.outbox) == 2
    codes = [code_in(m) for m in mail.outbox]
    assert codes[0] != codes[1]
    assert sorted(codes) == sorted(Coupon.objects.values_list("code", flat=True))


def test_a_retried_send_carries_the_same_code(policy, frozen, settings):
    from tests.core.backends import FlakyBackend

    settings.EMAIL_BACKEND = "tests.core.backends.FlakyBackend"
    FlakyBackend.failing = {"flaky@example.com"}
    try:
        flow = FlowFactory()
        EmailStepFactory(flow=flow, template=coupon_template(), coupon_policy=policy)
        enrollment = EnrollmentFactory(flow=flow, contact=ContactFactory(email="flaky@example.com"))
        engine.run_due()
        assert Coupon.objects.count() == 1
        issued = Coupon.objects.get().code
        FlakyBackend.failing = set()
        enrollment.refresh_from_db()
        frozen.set(enrollment.due_at + timedelta(seconds=1))
        engine.run_due()
    finally:
        FlakyBackend.failing = set()
    assert Coupon.objects.count() == 1
    [sent] = mail.outbox
    assert code_in(sent) == issued


def test_code_shown_in_the_contacts_language(policy, frozen):
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=coupon_template("ru"), coupon_policy=policy)
    contact = ContactFactory(email="ivan@example.com", locale="ru")
    EnrollmentFactory(flow=flow, contact=contact, snapshot={"locale": "ru"})
    engine.run_due()
    [sent] = mail.outbox
    assert "UNTIL[23 декабря 2026" in sent.body
    html = sent.alternatives[0][0]
    assert "Скидка 10% на следующий заказ" in html
    assert "Действует до 23 декабря 2026\u202fг. включительно" in html
    assert "Для заказов от 1\xa0000\xa0₽" in html


def test_inactive_policy_issues_nothing_and_the_partial_renders_nothing(policy, frozen):
    policy.is_active = False
    policy.save()
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=coupon_template(), coupon_policy=policy)
    EnrollmentFactory(flow=flow)
    engine.run_due()
    assert Coupon.objects.count() == 0
    [sent] = mail.outbox
    assert "CODE[]" in sent.body
    assert "off your next order" not in sent.alternatives[0][0]


def test_preview_shows_a_sample_code(policy, frozen):
    from postpurchase.email.previews import preview_step

    step = EmailStepFactory(template=coupon_template(), coupon_policy=policy)
    rendered = preview_step(step)
    assert "CODE[THX-" in rendered.text
    assert Coupon.objects.count() == 0
