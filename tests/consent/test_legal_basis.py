"""MARKETING_LEGAL_BASIS: which contacts a marketing email goes to; transactional email
never asks; the consent the shop's checkout passes; the history it leaves."""

from __future__ import annotations

import pytest

from postpurchase import consent, signals, track
from postpurchase.exceptions import InvalidEventError
from postpurchase.models import Consent, ConsentRecord, Contact
from postpurchase.public.unsubscribe import unsubscribe
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EnrollmentFactory,
    FlowFactory,
    order_snapshot,
)
from tests.core.helpers import run_due

from .helpers import order, outcome, two_flows

pytestmark = pytest.mark.django_db

SENT = [("sent", "")]


@pytest.fixture
def explicit(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "MARKETING_LEGAL_BASIS": "consent"}


def with_consent(granted=True, **extra):
    """order() kwargs carrying the checkout checkbox in the order snapshot."""
    return {"marketing_consent": {"granted": granted, "wording": "Email me offers", **extra}}


# --- soft opt-in (the default) -----------------------------------------------------------


def test_soft_opt_in_sends_marketing_to_a_customer_and_records_why(frozen):
    service, offer = two_flows()
    order()
    assert outcome(service) == SENT and outcome(offer) == SENT
    [entry] = ConsentRecord.objects.all()
    assert (entry.purpose, entry.state, entry.source) == ("marketing", "soft_opt_in", "checkout")
    assert Consent.objects.get().state == "soft_opt_in"


def test_soft_opt_in_skips_someone_who_never_bought(frozen):
    flow = FlowFactory(trigger="product_viewed")
    step = EmailStepFactory(flow=flow, category="marketing")
    track("product_viewed", email="ivan@example.com", data={"sku": "BP-1"})
    run_due()
    assert outcome(step) == [("suppressed", consent.NO_CONSENT)]


def test_a_contact_from_before_consent_was_recorded_counts_as_a_customer_by_its_orders(frozen):
    from postpurchase.testing.factories import EventFactory

    buyer = ContactFactory(email="old@example.com", soft_opt_in=False)
    EventFactory(contact=buyer, name="order_delivered")
    stranger = ContactFactory(email="new@example.com", soft_opt_in=False)
    step = EmailStepFactory(category="marketing")
    for contact in (buyer, stranger):
        EnrollmentFactory(flow=step.flow, contact=contact)
    run_due()
    found = dict(step.messages.values_list("contact__email", "error").order_by("contact__email"))
    assert found == {"new@example.com": consent.NO_CONSENT, "old@example.com": ""}


def test_soft_opt_in_never_overrides_a_withdrawal(frozen):
    service, offer = two_flows()
    unsubscribe(ContactFactory(email="anna@example.com"), source="link")
    order()
    assert outcome(service) == SENT
    assert outcome(offer) == [("suppressed", "unsubscribed")]
    assert Consent.objects.get().state == "withdrawn"


# --- explicit consent ------------------------------------------------------------------


def test_explicit_consent_skips_a_customer_without_it_and_records_why(frozen, explicit):
    service, offer = two_flows()
    order()
    assert outcome(service) == SENT  # transactional email never asks for consent
    assert outcome(offer) == [("suppressed", consent.NO_CONSENT)]


def test_explicit_consent_sends_to_a_customer_who_ticked_the_box(frozen, explicit):
    service, offer = two_flows()
    order(**with_consent())
    assert outcome(service) == SENT and outcome(offer) == SENT
    [entry] = ConsentRecord.objects.all()
    assert (entry.state, entry.source, entry.wording) == ("granted", "checkout", "Email me offers")


def test_explicit_consent_sends_a_soft_opt_in_nothing(frozen, explicit):
    service, offer = two_flows()
    ContactFactory(email="anna@example.com")  # soft opt-in recorded
    order()
    assert outcome(offer) == [("suppressed", consent.NO_CONSENT)]


def test_a_box_left_unticked_withdraws(frozen):
    service, offer = two_flows()
    order(**with_consent(granted=False, source="account"))
    assert outcome(service) == SENT
    assert outcome(offer) == [("suppressed", consent.WITHDRAWN)]
    assert Consent.objects.get().source == "account"


def test_ticking_the_box_again_resubscribes(frozen):
    service, offer = two_flows()
    contact = ContactFactory(email="anna@example.com")
    unsubscribe(contact)
    order(**with_consent())
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None
    assert outcome(offer) == SENT
    states = list(ConsentRecord.objects.order_by("pk").values_list("state", flat=True))
    assert states == ["soft_opt_in", "withdrawn", "granted"]


def test_a_topic_turned_off_at_checkout_skips_that_topic_only(frozen):
    _, tips = two_flows(topic="tips")
    offers = EmailStepFactory(flow=FlowFactory(), category="marketing", topic="offers")
    order(**with_consent(topics={"tips": False}))
    assert outcome(tips) == [("suppressed", consent.topic_withdrawn("tips"))]
    assert outcome(offers) == SENT


def test_track_passes_consent_from_the_contact_details(frozen, explicit):
    flow = FlowFactory(trigger="signed_up")
    step = EmailStepFactory(flow=flow, category="marketing")
    track(
        "signed_up",
        email="olga@example.com",
        contact={"marketing_consent": {"granted": True, "source": "account", "wording": "Yes"}},
    )
    run_due()
    assert outcome(step) == SENT
    assert Contact.objects.get().consents.get().source == "account"


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        {"granted": "yes"},
        {"granted": True, "source": "esp_complaint"},
        {"granted": True, "wording": 3},
        {"granted": True, "topics": {"spam": True}},
        {"granted": True, "topics": {"tips": "no"}},
    ],
)
def test_bad_consent_from_the_shop_is_refused_by_name(db, value):
    with pytest.raises(InvalidEventError, match="marketing_consent"):
        track("signed_up", email="olga@example.com", contact={"marketing_consent": value})
    assert not ConsentRecord.objects.exists()


def test_transactional_email_is_never_blocked_by_consent(frozen, explicit):
    contact = ContactFactory(email="anna@example.com", email_frequency="orders_only")
    unsubscribe(contact)
    step = EmailStepFactory(category="transactional")
    EnrollmentFactory(flow=step.flow, contact=contact, snapshot=order_snapshot())
    run_due()
    assert outcome(step) == SENT


def test_a_change_sends_consent_changed_after_commit(frozen, django_capture_on_commit_callbacks):
    heard = []
    signals.consent_changed.connect(
        lambda sender, **kw: heard.append(kw), weak=False, dispatch_uid="t-consent"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            contact = ContactFactory(email="anna@example.com")
            unsubscribe(contact)
            unsubscribe(contact)  # no change, no record, no signal
    finally:
        signals.consent_changed.disconnect(dispatch_uid="t-consent")
    assert [k["record"].state for k in heard] == ["soft_opt_in", "withdrawn"]
    assert all(k["contact"] == contact for k in heard)


def test_the_check_costs_the_same_queries_for_one_or_many_contacts(frozen):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    step = EmailStepFactory(category="marketing", topic="tips")
    counts = []
    for n in (1, 20):
        contacts = [ContactFactory(email=f"c{n}-{i}@example.com") for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            consent.refusals(step, contacts)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 3
