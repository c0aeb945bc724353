"""The analytics page in the admin: reached from the flow list and the flow's page,
for staff who may view flows; the same table as CSV; figures on the flow diagram."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from postpurchase import clock
from postpurchase.formats import money

pytestmark = pytest.mark.django_db

NOV = "?start=2026-11-01&end=2026-11-30"


def url(flow, csv_=False):
    name = "admin:postpurchase_flow_analytics_csv" if csv_ else "admin:postpurchase_flow_analytics"
    return reverse(name, args=[flow.pk])


def test_the_page_shows_the_chart_and_the_table(admin_client, dataset):
    response = admin_client.get(url(dataset["flow"]) + NOV)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="pp-chart"') == 1
    assert 'id="pp-analytics-table"' in html
    for header in ("Sent", "Open rate", "Click-to-open", "Revenue per recipient", "Machine opens"):
        assert f">{header}</th>" in html
    assert "Goal conversions" in html  # the flow has a goal
    assert "1. Thanks" in html and "3. Come back" in html
    assert "66.7%" in html  # step 1's open rate, 6 of 9
    assert "₽1,500" in html and "€20" in html
    assert "<script" not in html.split('id="content-main"')[1]


def test_the_page_reads_in_russian(admin_client, dataset):
    with translation.override("ru"):
        response = admin_client.get(url(dataset["flow"]) + NOV, HTTP_ACCEPT_LANGUAGE="ru")
    html = response.content.decode()
    assert "Отправлено" in html
    assert "66,7%" in html
    assert money(1500, "RUB", "ru") in html  # "1 500 ₽", with no-break spaces


def test_the_csv_is_the_same_table(admin_client, dataset):
    response = admin_client.get(url(dataset["flow"], csv_=True) + NOV)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["Step"] for r in rows] == ["1. Thanks", "3. Come back", "All emails"]
    first, _third, total = rows
    assert first["Sent"] == "10" and first["Opened"] == "6" and first["Bounced"] == "1"
    assert first["Open rate"] == "0.6667"
    assert first["Machine opens"] == "5"
    assert first["Revenue (RUB)"] == "1500.00"
    assert first["Revenue (EUR)"] == "0.00"
    assert total["Conversions"] == "3"
    assert total["Revenue per recipient (RUB)"] == "115.38"
    assert first["From"] == "2026-11-01" and first["To"] == "2026-11-30"


def test_reached_from_the_flow_list_and_the_flows_page(admin_client, dataset):
    flow = dataset["flow"]
    listing = admin_client.get(reverse("admin:postpurchase_flow_changelist")).content.decode()
    assert f'href="{url(flow)}"' in listing
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[flow.pk]))
    assert f'href="{url(flow)}"' in page.content.decode()


def test_the_diagram_shows_each_steps_figures_of_the_last_30_days(admin_client, dataset):
    with clock.frozen_at(datetime(2026, 11, 30, 12, tzinfo=UTC)):
        page = admin_client.get(
            reverse("admin:postpurchase_flow_change", args=[dataset["flow"].pk])
        )
    html = page.content.decode()
    # Step 1: 6 opened and 3 clicked of the 9 reached (the October email is older).
    assert "66.7% opened · 33.3% clicked · conversions: 2 · ₽1,500" in html
    assert "50.0% opened · 25.0% clicked · conversions: 1 · €20" in html


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return user


def test_staff_without_the_view_permission_are_refused(client, staff, dataset):
    assert client.get(url(dataset["flow"])).status_code == 403
    assert client.get(url(dataset["flow"], csv_=True)).status_code == 403


def test_the_view_permission_is_enough(client, staff, dataset):
    staff.user_permissions.add(Permission.objects.get(codename="view_flow"))
    assert client.get(url(dataset["flow"]) + NOV).status_code == 200
    assert client.get(url(dataset["flow"], csv_=True)).status_code == 200


def test_anonymous_visitors_go_to_the_login(client, dataset):
    response = client.get(url(dataset["flow"]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_unknown_flow_is_404(admin_client):
    assert admin_client.get("/admin/postpurchase/flow/999999/analytics/").status_code == 404


def test_conversions_are_listed_read_only(admin_client, dataset):
    listing = admin_client.get(reverse("admin:postpurchase_conversion_changelist"))
    assert listing.status_code == 200
    assert "₽1,000" in listing.content.decode()
    assert admin_client.get(reverse("admin:postpurchase_conversion_add")).status_code == 403
