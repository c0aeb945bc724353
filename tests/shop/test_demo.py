from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from functools import cache
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.urls import resolve

from example_shop.shop.cart import CartLine
from example_shop.shop.checkout import Customer, place_order
from example_shop.shop.demo_data import load_demo_data
from example_shop.shop.management.commands.demo import format_offset
from example_shop.shop.models import Category, Order, Product, Review
from postpurchase.models import Enrollment, Flow
from tests.docs.tables import DOCS


def test_format_offset():
    assert format_offset(timedelta(0)) == "+0d 00:00"
    assert format_offset(timedelta(days=2, hours=3, minutes=5)) == "+2d 03:05"
    assert format_offset(timedelta(days=7)) == "+7d 00:00"


@pytest.mark.django_db
def test_demo_data_is_idempotent_and_sends_no_signals(inbound_signals):
    first = load_demo_data()
    assert first == {
        "categories": 4,
        "products": 17,
        "customers": 5,
        "orders": 10,
        "reviews": 4,
    }
    assert load_demo_data() == dict.fromkeys(first, 0)
    assert Category.objects.count() == 4
    assert Product.objects.count() == 17
    assert Order.objects.count() == 10
    assert Review.objects.count() == 4
    assert all(o.items.exists() for o in Order.objects.all())
    assert {o.status for o in Order.objects.all()} == set(Order.Status.values)
    assert get_user_model().objects.get(username="taras").check_password("demo12345")
    assert inbound_signals.calls == []


def series_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(r"^\+\d+d \d\d:\d\d", line)]


def masked(output: str) -> list[str]:
    """The output without what differs from run to run: the random order number, the
    day the simulation starts, the folder of the mail copies."""
    output = re.sub(r"BP-[A-Z0-9]{6}", "BP-XXXXXX", output)
    output = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<start> UTC", output)
    output = re.sub(r"(written to|Open them in) \S+?(\.?)$", r"\1 <mail dir>\2", output, flags=re.M)
    return output.splitlines()


#: Where the simulations of these tests write their emails (under simulated/).
MAIL_DIR = Path(tempfile.mkdtemp(prefix="test-demo-mail-"))


def simulate() -> str:
    """What ``demo --simulate`` prints, with mail copies written as in the demo."""
    out = StringIO()
    with override_settings(POSTPURCHASE={**settings.POSTPURCHASE, "MAIL_DIR": MAIL_DIR}):
        call_command("demo", "--simulate", stdout=out)
    return out.getvalue()


@cache
def fresh_simulation() -> str:
    """``simulate()`` once: it runs on a database of its own, whatever the test's."""
    return simulate()


def test_demo_simulate_prints_the_series_and_an_nps_answer():
    output = fresh_simulation()
    lines = series_lines(output)
    assert [line.split()[0] + " " + line.split()[1] for line in lines] == [
        "+0d 00:00",  # thank you
        "+2d 00:00",  # come back, with a coupon
        "+3d 00:00",  # (order delivered)
        "+7d 00:00",  # review request
        "+13d 00:00",  # NPS survey, 10 days after delivery
        "+13d 00:00",  # (answered 10)
        "+13d 01:00",  # the public review links the customer asked for in the survey
        "+23d 00:00",  # replenishment: a week before the stove gas (30 days) runs out
        "+30d 00:00",  # on the predicted day
        "+90d 00:00",  # winback: no order for 90 days (the date-trigger scan)
        "+104d 23:00",  # 15 % off, as the first code went unused (9:00 in London)
        "+119d 23:00",  # free shipping
    ]
    assert "(answered the survey: 10, promoter)" in lines[5]
    assert lines[7].endswith("Emily, time to stock up soon")
    assert lines[9].endswith("Emily, we miss you")
    assert "10 emails sent." in output
    # ... each of them in the mail folder, as HTML and as text.
    assert len(list((MAIL_DIR / "simulated").glob("*.html"))) == 10
    assert len(list((MAIL_DIR / "simulated").glob("*.txt"))) == 10
    assert all("emily.clark@example.com" in line for line in lines)
    # The order it announces is the one the thank-you is about.
    (number,) = re.findall(r"Placed order (BP-\w+)", output)
    assert lines[0].endswith(f"#{number}")
    # A review written in the demo shop earns the promised coupon.
    assert "Flow 'review-thank-you' is live." in output


def test_every_marketing_email_of_the_demo_links_the_preference_centre():
    fresh_simulation()
    marketing = 0
    for page in (MAIL_DIR / "simulated").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        text = page.with_suffix(".txt").read_text(encoding="utf-8")
        if "/postpurchase/unsubscribe/" not in html:
            assert "/postpurchase/preferences/" not in html  # transactional
            continue
        marketing += 1
        [link] = set(re.findall(r'href="[^"]*(/postpurchase/preferences/[^"/]+/)"', html))
        assert resolve(link).url_name == "preferences"
        assert link in text  # the plain-text part has it too
    assert marketing == 9  # all but the thank-you (series 4, replenishment 2, winback 3)


@pytest.mark.django_db(transaction=True)
def test_demo_setup_makes_the_admin_and_the_live_flows():
    call_command("demo", "--no-server", stdout=StringIO())
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert Flow.objects.get(slug="review-thank-you").status == Flow.Status.LIVE
    assert Flow.objects.get(slug="post-purchase-series").status == Flow.Status.LIVE


def live_state() -> dict[str, list[dict]]:
    """Every row of the shop's and the app's tables (and the users)."""
    models = [*apps.get_app_config("postpurchase").get_models()]
    models += [*apps.get_app_config("shop").get_models(), get_user_model()]
    return {m._meta.label: list(m._base_manager.order_by("pk").values()) for m in models}


@pytest.mark.django_db(transaction=True)
def test_simulate_after_using_the_live_demo_leaves_it_alone_and_prints_a_fresh_series():
    call_command("demo", "--no-server", stdout=StringIO())
    # A guest orders in the live demo: her thank-you goes out, the rest of her series
    # (the 2-day email, the review request, the survey) waits.
    product = Product.objects.get(sku="BP-TRK-45")
    guest = Customer(
        email="guest@example.com",
        first_name="Gita",
        last_name="Guest",
        phone="+44 20 7946 0001",
        shipping_address="1 Guest Street, London",
    )
    place_order([CartLine(product, 1)], guest, locale="en")
    assert Enrollment.objects.filter(
        contact__email="guest@example.com", status=Enrollment.Status.ACTIVE
    ).exists()
    before = live_state()

    output = simulate()

    assert live_state() == before
    assert masked(output) == masked(fresh_simulation())
    assert "guest@example.com" not in output


def documented_output(text: str, after: str) -> list[str]:
    """The lines of the first fenced block after the line ``after``."""
    block = text[text.index(after) :].split("```", 2)[1]
    return block.splitlines()[1:]


def test_the_quickstarts_sample_output_is_what_the_demo_prints():
    quickstart = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    documented = documented_output(quickstart, "prints every email the series sends")
    assert masked("\n".join(documented)) == masked(fresh_simulation())


def test_the_readmes_sample_output_is_the_demos_series():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    documented = documented_output(readme, "prints each email as it goes out")
    assert masked("\n".join(documented)) == masked("\n".join(series_lines(fresh_simulation())))


@pytest.mark.django_db(transaction=True)
def test_the_demo_ships_email_history_so_the_analytics_show_figures():
    from postpurchase.analytics.reports import default_range, flow_report
    from postpurchase.models import Conversion, Message

    out = StringIO()
    call_command("demo", "--no-server", stdout=out)
    assert "past emails of 'post-purchase-series' added" in out.getvalue()
    flow = Flow.objects.get(slug="post-purchase-series")
    start, end = default_range()
    report = flow_report(flow, start, end)
    total = report.total
    assert total.sent > 100
    assert 0 < total.bounced < total.sent
    assert 0 < total.clicked < total.opened < total.sent
    assert total.machine_opens > 0
    assert total.conversions > 0 and total.revenue["RUB"] > 0
    assert total.goals > 0  # reviews after a click: the series' goal
    assert total.unsubscribed + total.complained > 0
    assert len([row for row in report.steps if row.figures.sent]) == 3
    # Each conversion belongs to an email clicked before it.
    for conversion in Conversion.objects.select_related("message")[:50]:
        assert conversion.message.clicked_at <= conversion.occurred_at
    # Running the demo again adds nothing.
    count = Message.objects.count()
    call_command("demo", "--no-server", stdout=StringIO())
    assert Message.objects.count() == count
