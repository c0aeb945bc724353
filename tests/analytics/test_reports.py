"""A flow's figures on a known dataset (see conftest.dataset)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from postpurchase.analytics import chart
from postpurchase.analytics.reports import (
    MAX_DAYS,
    Figures,
    flow_report,
    parse_range,
    step_figures,
)
from postpurchase.testing.factories import ConversionFactory

from .helpers import email

pytestmark = pytest.mark.django_db

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def test_the_flows_figures_per_step(dataset):
    report = flow_report(dataset["flow"], *NOV)
    first, third = report.steps  # the delay has no emails and no row
    assert first.step == dataset["first"] and third.step == dataset["third"]
    assert first.label == "1. Thanks"
    f = first.figures
    assert (f.sent, f.delivered, f.bounced, f.opened, f.opens) == (10, 8, 1, 6, 9)
    assert (f.clicked, f.clicks, f.machine_opens, f.machine_clicks) == (3, 4, 5, 2)
    assert (f.unsubscribed, f.complained, f.conversions, f.goals) == (1, 1, 2, 0)
    assert f.revenue == {"RUB": Decimal("1500")}
    assert f.recipients == 9
    assert f.open_rate == pytest.approx(6 / 9)
    assert f.click_rate == pytest.approx(3 / 9)
    assert f.click_to_open == pytest.approx(3 / 6)
    assert f.conversion_rate == pytest.approx(2 / 9)
    assert f.revenue_per_recipient == {"RUB": Decimal("166.67")}
    t = third.figures
    assert (t.sent, t.opened, t.clicked, t.conversions, t.goals) == (4, 2, 1, 1, 1)
    assert t.revenue == {"EUR": Decimal("20")}


def test_the_total_sums_the_steps_and_keeps_currencies_apart(dataset):
    report = flow_report(dataset["flow"], *NOV)
    total = report.total
    assert (total.sent, total.opened, total.clicked, total.conversions) == (14, 8, 4, 3)
    assert total.revenue == {"RUB": Decimal("1500"), "EUR": Decimal("20")}
    assert report.currencies == ["EUR", "RUB"]
    assert total.revenue_per_recipient == {"RUB": Decimal("115.38"), "EUR": Decimal("1.54")}


def test_the_series_has_every_day_of_the_range(dataset):
    report = flow_report(dataset["flow"], *NOV)
    assert report.bucket == "day"
    assert len(report.series) == 30
    by_day = {day: f for day, f in report.series}
    assert by_day[date(2026, 11, 10)].sent == 10
    assert by_day[date(2026, 11, 11)].sent == 4
    assert by_day[date(2026, 11, 11)].conversions == 1
    assert sum(f.sent for f in by_day.values()) == 14


def test_days_are_the_time_zones(dataset):
    # 09:00 UTC on Nov 10 is 23:00 on Nov 9 in Honolulu.
    report = flow_report(dataset["flow"], *NOV, tz=ZoneInfo("Pacific/Honolulu"))
    by_day = {day: f for day, f in report.series}
    assert by_day[date(2026, 11, 9)].sent == 10


def test_a_long_range_is_shown_by_week(dataset):
    report = flow_report(dataset["flow"], date(2026, 9, 1), date(2026, 12, 31))
    assert report.bucket == "week"
    assert all(day.weekday() == 0 for day, _f in report.series)
    assert report.total.sent == 15  # the October email too
    assert report.total.revenue == {"RUB": Decimal("9277"), "EUR": Decimal("20")}


def test_outside_the_range_nothing_counts(dataset):
    report = flow_report(dataset["flow"], date(2026, 12, 1), date(2026, 12, 31))
    assert report.total == Figures()
    assert report.total.open_rate is None
    assert [row.figures.sent for row in report.steps] == [0, 0]


def test_emails_of_a_deleted_step_keep_counting(dataset):
    dataset["third"].delete()
    report = flow_report(dataset["flow"], *NOV)
    assert [row.label for row in report.steps] == ["1. Thanks", "Deleted steps"]
    assert report.steps[1].figures.sent == 4
    assert report.total.sent == 14


def test_step_figures(dataset):
    figures = step_figures(dataset["flow"], date(2026, 9, 1), date(2026, 11, 30))
    assert figures[dataset["first"].pk].sent == 11  # the October email too
    assert figures[dataset["first"].pk].conversions == 3
    assert figures[dataset["third"].pk].goals == 1


def test_a_conversion_of_a_deleted_steps_email_keeps_counting(dataset):
    dataset["third"].delete()
    report = flow_report(dataset["flow"], *NOV)
    assert report.steps[-1].figures.conversions == 1
    assert report.total.conversions == 3


def selects(flow) -> int:
    with CaptureQueriesContext(connection) as ran:
        flow_report(flow, *NOV)
    # PostgreSQL adds a savepoint and SET LOCAL work_mem around the GROUP BY.
    return sum(q["sql"].startswith("SELECT") for q in ran.captured_queries)


def test_the_query_count_does_not_grow_with_the_emails(dataset):
    # The steps (one query, then one per step kind: email, delay), the emails by step,
    # those of deleted steps, the conversions.
    assert selects(dataset["flow"]) == 6
    for _ in range(5):
        ConversionFactory(message=email(dataset["flow"], step=dataset["first"]))
    assert selects(dataset["flow"]) == 6


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", (date(2026, 11, 1), date(2026, 11, 30))),
        ("start=2026-11-05&end=2026-11-07", (date(2026, 11, 5), date(2026, 11, 7))),
        ("start=2026-11-07&end=2026-11-05", (date(2026, 11, 5), date(2026, 11, 7))),
        ("end=2026-10-30", (date(2026, 10, 1), date(2026, 10, 30))),
        ("start=nonsense&end=2026-13-01", (date(2026, 11, 1), date(2026, 11, 30))),
        (
            "start=2000-01-01&end=2026-11-30",
            (date(2026, 11, 30).replace(year=2024, day=30), date(2026, 11, 30)),
        ),
    ],
)
def test_parse_range(query, expected):
    start, end = parse_range(QueryDict(query), today=date(2026, 11, 30))
    assert (start, end) == expected
    assert (end - start).days < MAX_DAYS


def test_the_chart_is_one_inline_svg_with_no_outside_resource(dataset):
    report = flow_report(dataset["flow"], *NOV)
    svg = str(chart.render(report.series, report.bucket))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="pp-bar"') == 30
    assert "pp-line-opened" in svg and "pp-line-clicked" in svg
    assert "<script" not in svg and "href" not in svg and "url(" not in svg
    assert "10 Nov: 10 sent, 6 opened, 3 clicked, 2 conversions" in svg


def test_the_chart_of_nothing_still_draws():
    svg = str(chart.render([], "day"))
    assert svg.startswith("<svg")


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 3), (7, 8), (11, 15), (24, 30), (450, 500), (1001, 1500)]
)
def test_nice_max(value, top):
    assert chart.nice_max(value) == top
