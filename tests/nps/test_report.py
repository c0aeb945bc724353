"""The NPS score and the admin report (over time, by flow, by product category)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from postpurchase import nps
from postpurchase.models import Message, NPSResponse
from postpurchase.testing.factories import EnrollmentFactory, FlowFactory

pytestmark = pytest.mark.django_db

REPORT = "admin:postpurchase_npsresponse_report"


def test_nps_is_percent_promoters_minus_percent_detractors():
    assert nps.nps_score(0, 0, 0) is None
    assert nps.nps_score(5, 3, 2) == 30.0
    assert nps.nps_score(0, 0, 4) == -100.0
    assert nps.nps_score(1, 1, 1) == 0.0
    assert nps.count(["promoter", "promoter", "passive", "detractor"]).rounded == 25


def make_answers(spec):
    """spec: (flow, categories of the order, score, comment, answered at) per answer."""
    for flow, categories, score, comment, at in spec:
        items = [{"sku": c, "name": c, "category": c} for c in categories]
        enrollment = EnrollmentFactory(flow=flow, snapshot={"number": "1", "items": items})
        message = Message.objects.create(
            enrollment=enrollment,
            contact=enrollment.contact,
            to_email=enrollment.contact.email,
            category="marketing",
            created_at=at,
        )
        NPSResponse.objects.create(
            message=message,
            contact=enrollment.contact,
            enrollment=enrollment,
            flow=flow,
            categories=nps.order_categories(enrollment.snapshot),
            score=score,
            comment=comment,
            category=nps.category_for(score),
            created_at=at,
            updated_at=at,
        )


@pytest.fixture
def answers():
    survey = FlowFactory(name="Survey A")
    other = FlowFactory(name="Survey B")
    week1 = datetime(2026, 11, 2, 12, tzinfo=UTC)  # a Monday
    week2 = week1 + timedelta(days=7)
    make_answers(
        [
            (survey, ["Backpacks"], 10, "Great bag", week1),
            (survey, ["Backpacks"], 9, "", week1),
            (survey, ["Accessories"], 3, "Broken strap", week1),
            (other, ["Accessories"], 2, "", week2),
            (other, ["Backpacks", "Accessories"], 8, "", week2),
        ]
    )
    return survey, other


def test_the_report_computes_nps_by_week_flow_and_category(answers):
    report = nps.report(NPSResponse.objects.all(), "week")
    # 2 promoters, 1 passive, 2 detractors of 5: 40% - 40% = 0.
    assert (report["overall"].total, report["overall"].rounded) == (5, 0)
    weeks = [(row.label, row.nps, row.counts.total) for row in report["over_time"]]
    assert weeks == [("2026-11-02", 33, 3), ("2026-11-09", -50, 2)]
    flows = {row.label: row.nps for row in report["by_flow"]}
    assert flows == {"Survey A": 33, "Survey B": -50}
    categories = {row.label: (row.nps, row.counts.total) for row in report["by_category"]}
    # Backpacks: 10, 9, 8 -> 67; Accessories: 3, 2, 8 -> -67.
    assert categories == {"Backpacks": (67, 3), "Accessories": (-67, 3)}
    assert {r.comment for r in report["comments"]} == {"Great bag", "Broken strap"}
    months = nps.report(NPSResponse.objects.all(), "month")["over_time"]
    assert [(row.label, row.nps) for row in months] == [("2026-11-01", 0)]


def test_bars_start_at_zero_and_scale_to_half_the_axis(answers):
    [week1, week2] = nps.report(NPSResponse.objects.all(), "week")["over_time"]
    assert (week1.bar_left, round(week1.bar_width, 1)) == (50.0, 16.7)
    assert (week2.bar_left, week2.bar_width) == (25.0, 25.0)


def test_the_report_page_renders_with_data(admin_client, answers):
    survey, _ = answers
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "NPS report" in page
    assert 'class="pp-nps-big">0<' in page
    assert "Survey A" in page and "Survey B" in page
    assert "Backpacks" in page and "Broken strap" in page
    assert "<script" not in page.split('id="content-main"')[1].split("</table>")[0]
    monthly = admin_client.get(reverse(REPORT), {"period": "month", "flow": survey.pk})
    assert monthly.status_code == 200
    assert 'class="pp-nps-big">33<' in monthly.content.decode()


def test_the_report_without_answers(admin_client):
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "No answers yet." in page


def test_the_report_needs_view_permission(client, django_user_model, answers):
    user = django_user_model.objects.create_user("cs", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse(REPORT)).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_npsresponse"))
    assert client.get(reverse(REPORT)).status_code == 200


def test_the_answers_list_and_page_load(admin_client, answers):
    response = NPSResponse.objects.first()
    assert admin_client.get(reverse("admin:postpurchase_npsresponse_changelist")).status_code == 200
    url = reverse("admin:postpurchase_npsresponse_change", args=[response.pk])
    assert admin_client.get(url).status_code == 200
