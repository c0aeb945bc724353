"""One formatting of money and dates (CLDR, through postpurchase.formats) in the emails,
the admin and the example shop."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.admin.sites import AdminSite
from django.core import mail
from django.utils import translation

from example_shop.shop.models import Order
from postpurchase import formats, signals
from postpurchase.admin.coupons import CouponPolicyAdmin
from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.models import CouponPolicy, Message
from tests.core.helpers import run_clock
from tests.recipes.helpers import live
from tests.shop.factories import OrderFactory, OrderItemFactory, ProductFactory

NBSP = "\u00a0"
NNBSP = "\u202f"  # CLDR's narrow no-break space before "г." / "р."


@pytest.mark.parametrize(
    "language, amount, currency, expected",
    [
        ("ru", "4290", "RUB", f"4{NBSP}290{NBSP}₽"),
        ("ru", "4290.50", "RUB", f"4{NBSP}290,50{NBSP}₽"),
        ("ru", "49.9", "USD", f"49,90{NBSP}$"),
        ("uk", "4290", "UAH", f"4{NBSP}290{NBSP}₴"),
        ("uk", "4290", "RUB", f"4{NBSP}290{NBSP}₽"),  # CLDR uk has "RUB"; the narrow ₽
        ("uk", Decimal("1234567.5"), "UAH", f"1{NBSP}234{NBSP}567,50{NBSP}₴"),
        ("en", "4290", "RUB", "₽4,290"),
        ("en", "4290.5", "USD", "$4,290.50"),
        ("en", "4290", "", "4,290"),
        ("ru", "4290", "", f"4{NBSP}290"),
    ],
)
def test_money_in_three_languages(language, amount, currency, expected):
    assert formats.money(amount, currency, language) == expected


def test_money_takes_the_active_language_when_none_is_given():
    with translation.override("ru"):
        assert formats.money(4290, "RUB") == f"4{NBSP}290{NBSP}₽"


@pytest.mark.parametrize(
    "language, expected",
    [("en", f"RUB{NBSP}4,290"), ("ru", f"4{NBSP}290{NBSP}RUB"), ("uk", f"4{NBSP}290{NBSP}RUB")],
)
def test_currency_display_code(settings, language, expected):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CURRENCY_DISPLAY": "code"}
    assert formats.money("4290", "RUB", language) == expected


def test_currency_display_is_validated(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CURRENCY_DISPLAY": "narrow"}
    with pytest.raises(PostpurchaseConfigurationError, match="CURRENCY_DISPLAY"):
        get_setting("CURRENCY_DISPLAY")


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", float("nan"), 10**30, True, [], {"a": 1}, None, ""]
)
def test_money_never_raises(value):
    assert formats.money(value, "RUB", "ru") == ""
    assert formats.money("on request", "RUB", "ru") == "on request"
    assert formats.money(10, 643, "en") == "10"


@pytest.mark.parametrize(
    "language, expected",
    [
        ("ru", f"1 декабря 2026{NNBSP}г."),
        ("uk", f"1 грудня 2026{NNBSP}р."),
        ("en", "December 1, 2026"),
    ],
)
def test_one_date_style_per_language(language, expected):
    assert formats.date(date(2026, 12, 1), language) == expected
    assert formats.date("2026-12-01", language) == expected
    assert formats.date("2026-12-01T10:00:00+00:00", language) == expected


@pytest.mark.parametrize(
    "language, expected",
    [
        ("ru", f"1 декабря 2026{NNBSP}г., 14:30"),
        ("uk", f"1 грудня 2026{NNBSP}р., 13:30"),
        ("en", f"December 1, 2026, 11:30{NNBSP}AM"),
    ],
)
def test_datetime_in_the_readers_time_zone(language, expected):
    zone = {"ru": "Europe/Moscow", "uk": "Europe/Kyiv", "en": "UTC"}[language]
    moment = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    assert formats.datetime(moment, language, zone) == expected
    assert formats.datetime(moment.isoformat(), language, zone) == expected


@pytest.mark.parametrize("value", [None, "", "soon", 12, "2026-13-45"])
def test_dates_that_are_not_dates_render_empty(value):
    assert formats.date(value, "ru") == ""
    assert formats.datetime(value, "ru", "UTC") == ""


@pytest.mark.django_db
def test_admin_revenue_cell_in_the_staff_language():
    policy = CouponPolicy(name="Thanks", kind="fixed", amount=Decimal("500"), currency="RUB")
    policy.revenue = Decimal("4290")
    admin = CouponPolicyAdmin(CouponPolicy, AdminSite())
    with translation.override("ru"):
        assert admin.revenue_display(policy) == f"4{NBSP}290{NBSP}₽"
        assert admin.value(policy) == f"500{NBSP}₽"
    with translation.override("en"):
        assert admin.revenue_display(policy) == "₽4,290"


def _visible(html: str) -> str:
    # Only ASCII white space is collapsed: the no-break spaces are part of the format.
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", NBSP))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, total, day",
    [
        ("ru", f"4{NBSP}290{NBSP}₽", f"1 декабря 2026{NNBSP}г."),
        ("en", "₽4,290", "December 1, 2026"),
    ],
)
def test_thank_you_email_and_the_shop_page_show_the_same_formats(
    client, frozen, settings, language, total, day
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SIGNAL_ERRORS": "raise"}
    live("post-purchase-series")
    product = ProductFactory(name="Trekker 45 L", price=Decimal("4290"), image_url="/t.jpg")
    order = OrderFactory(
        locale=language,
        subtotal=Decimal("4290"),
        total=Decimal("4290"),
        delivery_estimate=date(2026, 12, 1),
    )
    OrderItemFactory(order=order, product=product)
    signals.order_placed.send(sender=Order, order=order)
    run_clock(frozen, days=1)  # the thank-you leaves at once; the rest wait for days

    [email] = mail.outbox
    assert Message.objects.get().step.name == "Thank you"
    html = email.alternatives[0][0]
    page = client.get(
        f"{order.get_absolute_url()}?key={order.access_key()}", HTTP_ACCEPT_LANGUAGE=language
    )
    assert page.status_code == 200
    for text in (_visible(html), _visible(page.text)):
        assert total in text
        assert day in text
    assert not day.endswith(".") or f"{day}." not in _visible(html)  # no "2026 г.."
    assert 'alt="Trekker 45 L"' in html  # the item's picture is named, not alt=""
