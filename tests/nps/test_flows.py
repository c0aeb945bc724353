"""The answer is an event flows trigger on: the event_data filter routes detractors to
the customer-service alert, and every respondent who asks for it (whatever the score:
no review gating) to the public review request (domain E5)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError

from postpurchase import recipes
from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.flows.trigger_filters import passes
from postpurchase.flows.validation import validate_flow
from postpurchase.models import Enrollment, Flow, Message
from postpurchase.testing.factories import ContactFactory, FlowFactory
from tests.core.helpers import run_clock
from tests.recipes.helpers import PEOPLE, subjects_by_language

from .helpers import send_survey

pytestmark = pytest.mark.django_db

PLATFORMS = [
    {"name": "Google", "url": "https://g.page/r/shop/review"},
    {"name": "Trustpilot", "url": "https://www.trustpilot.com/evaluate/shop.example.com"},
]


@pytest.fixture(autouse=True)
def _setup(settings):
    cache.clear()
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "STAFF_EMAILS": ["care@example.com"],
        "REVIEW_PLATFORMS": PLATFORMS,
    }
    yield
    cache.clear()


@pytest.fixture
def follow_ups(db):
    return recipes.install("nps-detractor-alert", live=True), recipes.install(
        "nps-promoter-review", live=True
    )


def answer(client, link: str, score: int, comment: str = "", review: bool = False) -> None:
    data = {"score": str(score), "comment": comment}
    if review:
        data["review_opt_in"] = "1"
    assert client.post(link, data).status_code == 200


@pytest.mark.parametrize("slug", ["nps-survey", "nps-detractor-alert", "nps-promoter-review"])
def test_the_recipes_install_and_validate(slug):
    flow = recipes.install(slug)
    flow.full_clean()
    assert validate_flow(flow) == []


def test_the_follow_ups_filter_on_the_category_and_on_the_review_opt_in(follow_ups):
    detractor, review = follow_ups
    assert (detractor.trigger, detractor.filter_condition) == ("nps_submitted", "event_data")
    assert (detractor.filter_field, detractor.filter_operator) == ("category", "==")
    assert detractor.filter_value == "detractor"
    assert (review.filter_field, review.filter_operator) == ("review_opt_in", "==")
    assert review.filter_value == "true"


def test_a_detractor_alerts_customer_service_and_gets_no_review_request(frozen, client, follow_ups):
    _, links = send_survey(frozen)
    mail.outbox = []
    answer(client, links[2], 2, "The zip broke after a week")
    run_clock(frozen, days=3)
    detractor, promoter = follow_ups
    assert Enrollment.objects.filter(flow=detractor).count() == 1
    assert not Enrollment.objects.filter(flow=promoter).exists()
    [alert] = mail.outbox
    assert alert.to == ["care@example.com"]
    assert "NPS 2/10" in alert.subject and "#1001" in alert.subject
    body = alert.body
    assert "emily@example.com" in body and "Emily" in body
    assert "#1001" in body and "Product 1" in body
    assert "The zip broke after a week" in body
    assert "/admin/postpurchase/npsresponse/" in body


@pytest.mark.parametrize("score", [7, 8])
def test_a_passive_who_does_not_opt_in_starts_neither(frozen, client, follow_ups, score):
    _, links = send_survey(frozen)
    answer(client, links[score], score)
    run_clock(frozen, days=3)
    assert not Enrollment.objects.filter(flow__in=follow_ups).exists()


def test_a_promoter_who_does_not_opt_in_gets_no_review_request(frozen, client, follow_ups):
    _, links = send_survey(frozen)
    answer(client, links[10], 10)
    run_clock(frozen, days=3)
    assert not Enrollment.objects.filter(flow__in=follow_ups).exists()


@pytest.mark.parametrize("score", [0, 3, 6, 7, 8, 9, 10])
def test_every_respondent_who_opts_in_gets_the_review_links(frozen, client, follow_ups, score):
    # No review gating: the score does not decide who is asked for a public review.
    detractor, review = follow_ups
    _, links = send_survey(frozen)
    mail.outbox = []
    answer(client, links[score], score, "My honest opinion", review=True)
    run_clock(frozen, days=3)
    [request] = Message.objects.filter(enrollment__flow=review, status="sent")
    assert request.subject == "Emily, here is the link for your review"
    [html] = [m.alternatives[0][0] for m in mail.outbox if m.subject == request.subject]
    for platform in PLATFORMS:
        assert f'href="{platform["url"]}"' in html
    # Detractors still go to customer service as well.
    assert Enrollment.objects.filter(flow=detractor).count() == (1 if score <= 6 else 0)


def test_the_review_request_is_in_the_respondents_language(frozen, client, follow_ups):
    detractor, promoter = follow_ups
    for number, locale in (("1001", "en"), ("1002", "ru"), ("1003", "uk")):
        _, links = send_survey(frozen, locale=locale, number=number)
        answer(client, links[10], 10, "Love it", review=True)
    run_clock(frozen, days=3)
    assert not Enrollment.objects.filter(flow=detractor).exists()
    assert Enrollment.objects.filter(flow=promoter).count() == 3
    reviews = subjects_by_language(enrollment__flow=promoter)
    assert reviews == {
        "en": ["Emily, here is the link for your review"],
        "ru": ["Анна, вот ссылка для вашего отзыва"],
        "uk": ["Олена, ось посилання для вашого відгуку"],
    }
    review = Message.objects.get(enrollment__flow=promoter, language="en")
    [html] = [
        m.alternatives[0][0]
        for m in mail.outbox
        if m.subject == review.subject and PEOPLE["en"][0] in m.to[0]
    ]
    for platform in PLATFORMS:
        assert f'href="{platform["url"]}"' in html
        assert platform["name"] in html


def test_without_platforms_the_promoter_email_still_reads_well(frozen, client, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "REVIEW_PLATFORMS": []}
    promoter = recipes.install("nps-promoter-review", live=True)
    _, links = send_survey(frozen)
    answer(client, links[9], 9, review=True)
    run_clock(frozen, days=3)
    [review] = Message.objects.filter(enrollment__flow=promoter, status="sent")
    assert review.subject == "Emily, here is the link for your review"


def test_changing_a_detractor_answer_does_not_alert_twice(frozen, client, follow_ups):
    _, links = send_survey(frozen)
    mail.outbox = []
    answer(client, links[1], 1, "bad")
    answer(client, links[0], 0, "very bad")
    run_clock(frozen, days=3)
    assert len(mail.outbox) == 1  # once per order


# --- the event_data trigger filter ----------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "data", "expected"),
    [
        ("<=", "6", {"score": 6}, True),
        ("<=", "6", {"score": 7}, False),
        (">=", "9", {"score": 10}, True),
        ("==", "detractor", {"category": "Detractor"}, True),
        ("!=", "detractor", {"category": "promoter"}, True),
        ("is_set", "", {"comment": "hi"}, True),
        ("is_set", "", {"comment": ""}, False),
        ("<=", "6", {}, False),
        ("<=", "6", None, False),
    ],
)
def test_event_data_filter(operator, value, data, expected):
    field = next(iter(data)) if data else "score"
    flow = FlowFactory(
        filter_condition="event_data",
        filter_field=field,
        filter_operator=operator,
        filter_value=value,
    )
    flow.full_clean()
    assert passes(flow, {}, ContactFactory(), data) is expected


def test_event_data_filter_needs_a_field_and_an_operator():
    flow = FlowFactory.build(filter_condition="event_data", slug="x", name="x", trigger="t")
    with pytest.raises(ValidationError) as caught:
        flow.full_clean()
    assert {"filter_field", "filter_operator"} <= set(caught.value.message_dict)


def test_other_filters_still_see_the_order_not_the_event_data():
    flow = FlowFactory(
        filter_condition="contact_attribute",
        filter_field="score",
        filter_operator="==",
        filter_value="3",
    )
    assert passes(flow, {}, ContactFactory(attributes={"score": 3}), {"score": 9})
    assert Flow.objects.filter(pk=flow.pk).exists()


# --- REVIEW_PLATFORMS -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "https://g.page",
        [{"name": "Google"}],
        [{"name": "", "url": "https://g.page"}],
        [{"name": "Google", "url": "javascript:alert(1)"}],
        ["https://g.page"],
    ],
)
def test_review_platforms_are_validated(settings, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "REVIEW_PLATFORMS": value}
    with pytest.raises(PostpurchaseConfigurationError, match="REVIEW_PLATFORMS"):
        get_setting("REVIEW_PLATFORMS")


def test_review_platforms_default_to_none(settings):
    settings.POSTPURCHASE = {}
    assert get_setting("REVIEW_PLATFORMS") == []


# --- the step type ----------------------------------------------------------------------


def test_an_nps_step_needs_the_scale_in_its_template():
    from postpurchase.models import NPSStep
    from postpurchase.testing.factories import EmailContentFactory

    flow = recipes.install("nps-survey")
    step = NPSStep.objects.get(flow=flow)
    step.full_clean()
    EmailContentFactory(template=step.template, language="de", body="no scale here")
    with pytest.raises(ValidationError, match="scale"):
        step.full_clean()
    assert any("scale" in str(p) for p in validate_flow(flow))


def test_the_editor_offers_the_nps_step_and_duplicates_it(admin_client):
    from django.urls import reverse

    from postpurchase.flows.operations import duplicate_flow
    from postpurchase.models import NPSStep

    flow = recipes.install("nps-survey")
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[flow.pk]))
    assert page.status_code == 200
    assert "NPS survey email" in page.content.decode()
    copy = duplicate_flow(flow)
    [step] = NPSStep.objects.filter(flow=copy)
    assert step.template.slug == "nps-survey"
