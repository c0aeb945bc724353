"""A marketer opens a flow's analytics from the flow list, with the demo's email
history: the chart and the table are there, and the CSV downloads."""

from __future__ import annotations

import pytest

from postpurchase import recipes
from tests.browser.test_flow_editor import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history():
    from example_shop.shop.demo_data import load_demo_data
    from example_shop.shop.demo_history import load_email_history

    load_demo_data()
    flow = recipes.install("post-purchase-series", live=True)
    assert load_email_history(flow.slug) > 0
    return flow


def test_a_flows_analytics_show_the_chart_and_the_table(admin_page, history):
    page = admin_page
    page.goto(page.base_url + "/admin/postpurchase/flow/")
    row = page.locator("#result_list tr", has_text=history.name)
    with page.expect_navigation():
        row.get_by_role("link", name="Figures").click()
    assert "/analytics/" in page.url

    chart = page.locator("svg.pp-chart")
    assert chart.is_visible()
    assert chart.locator("rect.pp-bar").count() == 30
    assert chart.locator("polyline.pp-line-opened").count() == 1
    box = chart.bounding_box()
    assert box["width"] > 600 and box["height"] > 200

    table = page.locator("#pp-analytics-table")
    headers = [t.strip() for t in table.locator("thead th").all_text_contents()]
    assert headers[:4] == ["Email", "Sent", "Delivered", "Bounced"]
    assert "Revenue per recipient" in headers and "Machine opens" in headers
    total = [t.strip() for t in table.locator("tr.pp-total td").all_text_contents()]
    assert total[0] == "All emails" and int(total[1].replace(",", "")) > 100
    assert "₽" in total[headers.index("Revenue")]

    # A shorter range from the presets, then the same table as CSV.
    with page.expect_navigation():
        page.get_by_role("link", name="Last 7 days").click()
    assert page.locator("svg.pp-chart rect.pp-bar").count() == 7
    with page.expect_download() as download:
        page.locator("a.pp-csv").click()
    assert download.value.suggested_filename.startswith("analytics-post-purchase-series-")

    with page.expect_navigation():
        page.get_by_role("link", name="Last 30 days").click()
    shot(page, "analytics")
