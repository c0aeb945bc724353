from decimal import Decimal

import pytest
from django.utils import translation

from postpurchase.templatetags.postpurchase_email import as_date, as_datetime, money


@pytest.mark.parametrize(
    "language, value, currency, expected",
    [
        ("ru", "4990.00", "RUB", "4\u00a0990\u00a0₽"),
        ("ru", "790.50", "RUB", "790,50\u00a0₽"),
        ("uk", Decimal("1234567"), "UAH", "1\u00a0234\u00a0567\u00a0₴"),
        ("en", "49.9", "USD", "$49.90"),
        ("en", "1500", "EUR", "€1,500"),
        ("en", 12, "", "12"),
        ("en", "12", "XYZ", "XYZ\u00a012"),  # CLDR: English puts the currency first
        ("en", "-500", "USD", "-$500"),  # CLDR's minus sign and its place
    ],
)
def test_money(language, value, currency, expected):
    with translation.override(language):
        assert money(value, currency) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, ""),
        ("", ""),
        ("n/a", "n/a"),  # text that is not a number is shown as the shop sent it
        ("12,5", "12,5"),
        ("on request", "on request"),
    ],
)
def test_money_shows_text_that_is_not_a_number_as_given(value, expected):
    assert money(value, "RUB") == expected


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "sNaN",
        "Infinity",
        "-inf",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        "1e1000000",  # raised decimal.Overflow
        "-1e1000000",
        Decimal("1E+1000000"),
        "1e999999",  # printed a million digits
        10**30,
        1e18,
        pytest.param(10**5000, id="10**5000"),  # more digits than str() of an int allows
        True,
        [],
        {"amount": 1},
    ],
    ids=repr,
)
def test_money_renders_values_that_are_not_amounts_empty(value):
    with translation.override("en"):
        assert money(value, "USD") == ""


@pytest.mark.parametrize(
    "value, currency, expected",
    [
        (10**18 - 1, "USD", "$999,999,999,999,999,999"),
        ("-0.001", "USD", "$0.00"),  # no minus sign on a zero
        ("-0", "USD", "$0"),
        (Decimal("1E-1000000"), "USD", "$0.00"),
        (" 12 ", "USD", "$12"),
        (10, 643, "10"),  # a currency that is not a code is left out
        (10, None, "10"),
    ],
)
def test_money_edge_amounts(value, currency, expected):
    with translation.override("en"):
        assert money(value, currency) == expected


def test_dates_from_snapshot_strings():
    assert as_date("2026-11-26").isoformat() == "2026-11-26"
    assert as_date("2026-11-26T10:00:00+00:00").isoformat() == "2026-11-26"
    assert as_datetime("2026-11-23T10:00:00+00:00").hour == 10
    assert as_date("soon") is None
    assert as_datetime(None) is None
