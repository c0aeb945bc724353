from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from example_shop.shop.demo_data import load_demo_data
from example_shop.shop.management.commands.demo import format_offset
from example_shop.shop.models import Category, Order, Product, Review
from postpurchase.models import Flow


def test_format_offset():
    assert format_offset(timedelta(0)) == "+0d 00:00"
    assert format_offset(timedelta(days=2, hours=3, minutes=5)) == "+2d 03:05"
    assert format_offset(timedelta(days=7)) == "+7d 00:00"


@pytest.mark.django_db
def test_demo_data_is_idempotent_and_sends_no_signals(inbound_signals):
    first = load_demo_data()
    assert first == {
        "categories": 4,
        "products": 16,
        "customers": 5,
        "orders": 10,
        "reviews": 4,
    }
    assert load_demo_data() == dict.fromkeys(first, 0)
    assert Category.objects.count() == 4
    assert Product.objects.count() == 16
    assert Order.objects.count() == 10
    assert Review.objects.count() == 4
    assert all(o.items.exists() for o in Order.objects.all())
    assert {o.status for o in Order.objects.all()} == set(Order.Status.values)
    assert get_user_model().objects.get(username="taras").check_password("demo12345")
    assert inbound_signals.calls == []


@pytest.mark.django_db(transaction=True)
def test_demo_simulate_prints_the_series_and_an_nps_answer():
    out = StringIO()
    call_command("demo", "--simulate", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if re.match(r"^\+\d+d \d\d:\d\d", line)]
    assert [line.split()[0] + " " + line.split()[1] for line in lines] == [
        "+0d 00:00",  # thank you
        "+2d 00:00",  # come back, with a coupon
        "+3d 00:00",  # (order delivered)
        "+7d 00:00",  # review request
        "+13d 00:00",  # NPS survey, 10 days after delivery
        "+13d 00:00",  # (answered 10)
        "+13d 01:00",  # promoter follow-up
    ]
    assert "(answered the survey: 10, promoter)" in lines[5]
    assert "5 emails sent." in out.getvalue()
    assert all("emily.clark@example.com" in line for line in lines)
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    # A review written in the demo shop earns the promised coupon.
    assert "Flow 'review-thank-you' is live." in out.getvalue()
    assert Flow.objects.get(slug="review-thank-you").status == Flow.Status.LIVE
