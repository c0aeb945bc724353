"""The pacing and deliverability settings: malformed values name the key; the window
arithmetic behind caps and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.pacing import Rule, fits_at
from postpurchase.windows import after_quiet_hours, next_at_hour

BAD = [
    ("FREQUENCY_CAP", {"emails": 0, "hours": 24}),
    ("FREQUENCY_CAP", {"emails": 1}),
    ("FREQUENCY_CAP", {"emails": True, "hours": 24}),
    ("FREQUENCY_CAP", 1),
    ("QUIET_HOURS", {"start": 21, "end": 21}),
    ("QUIET_HOURS", {"start": 24, "end": 8}),
    ("QUIET_HOURS", (21, 8)),
    ("SEND_TIME_OPTIMISATION", "yes"),
    ("SEND_TIME_MIN_OBSERVATIONS", 0),
    ("SEND_TIME_MAX_DELAY_HOURS", 25),
    ("FROM_EMAILS", {"newsletter": "a@example.com"}),
    ("FROM_EMAILS", {"marketing": ""}),
    ("MESSAGE_STREAMS", ["broadcast"]),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_malformed_values_name_the_key(settings, key, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, key: value}
    with pytest.raises(PostpurchaseConfigurationError, match=key):
        get_setting(key)


def test_good_values(settings):
    good = {
        "FREQUENCY_CAP": {"emails": 2, "hours": 48},
        "QUIET_HOURS": {"start": 0, "end": 7},
        "SEND_TIME_OPTIMISATION": True,
        "SEND_TIME_MAX_DELAY_HOURS": 12,
        "FROM_EMAILS": {"marketing": "News <news@example.com>"},
        "MESSAGE_STREAMS": {"marketing": "broadcast", "transactional": "outbound"},
    }
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, **good}
    assert {key: get_setting(key) for key in good} == good


T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_fits_when_the_oldest_send_leaves_the_window():
    rule = Rule(2, DAY, "cap")
    assert fits_at([T0 - timedelta(hours=20)], rule, T0) == T0
    sent = [T0 - timedelta(hours=20), T0 - timedelta(hours=2)]
    assert fits_at(sent, rule, T0) == T0 + timedelta(hours=4)
    # Exactly a window old: no longer counted.
    assert fits_at([T0 - DAY, T0 - timedelta(hours=1)], rule, T0) == T0


def test_quiet_hours_across_midnight_and_within_a_night():
    utc = ZoneInfo("UTC")
    at = T0.replace(hour=22)
    assert after_quiet_hours(at, utc, 21, 8) == (T0 + DAY).replace(hour=8)
    assert after_quiet_hours(T0.replace(hour=3), utc, 21, 8) == T0.replace(hour=8)
    assert after_quiet_hours(T0.replace(hour=8), utc, 21, 8) == T0.replace(hour=8)
    assert after_quiet_hours(T0.replace(hour=20, minute=59), utc, 21, 8).hour == 20
    assert after_quiet_hours(T0.replace(hour=3), utc, 1, 7) == T0.replace(hour=7)
    assert after_quiet_hours(T0.replace(hour=0), utc, 1, 7) == T0.replace(hour=0)


def test_quiet_hours_on_a_daylight_saving_night():
    """Berlin leaves summer time on 25 October 2026: 21:00 to 08:00 is 12 hours long."""
    berlin = ZoneInfo("Europe/Berlin")
    evening = datetime(2026, 10, 24, 21, 30, tzinfo=berlin)
    morning = after_quiet_hours(evening, berlin, 21, 8)
    assert morning.astimezone(berlin).replace(tzinfo=None) == datetime(2026, 10, 25, 8, 0)
    assert morning.astimezone(UTC) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_next_at_hour():
    utc = ZoneInfo("UTC")
    assert next_at_hour(T0, utc, 10) == T0
    assert next_at_hour(T0, utc, 18) == T0.replace(hour=18)
    assert next_at_hour(T0, utc, 9) == (T0 + DAY).replace(hour=9)
