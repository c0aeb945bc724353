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
        ("en", "12", "XYZ", "12\u00a0XYZ"),
        ("en", "-500", "USD", "$\u2212500"),
    ],
)
def test_money(language, value, currency, expected):
    with translation.override(language):
        assert money(value, currency) == expected


@pytest.mark.parametrize("value", [None, "", "n/a", "NaN"])
def test_money_passes_odd_values_through(value):
    assert money(value, "RUB") in ("", str(value))


def test_dates_from_snapshot_strings():
    assert as_date("2026-11-26").isoformat() == "2026-11-26"
    assert as_date("2026-11-26T10:00:00+00:00").isoformat() == "2026-11-26"
    assert as_datetime("2026-11-23T10:00:00+00:00").hour == 10
    assert as_date("soon") is None
    assert as_datetime(None) is None
