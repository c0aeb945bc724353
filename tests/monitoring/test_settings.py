"""HEALTH and RETENTION: partial dicts keep the other defaults; bad values are named."""

from __future__ import annotations

import pytest

from postpurchase.conf import get_setting, health_setting, retention_setting
from postpurchase.exceptions import PostpurchaseConfigurationError


def configure(settings, **values):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, **values}


def test_left_out_keys_keep_their_defaults(settings):
    configure(settings, HEALTH={"MIN_ORDERS": 2}, RETENTION={"EVENTS_DAYS": None})
    assert health_setting("MIN_ORDERS") == 2
    assert health_setting("COMPLAINT_RATE") == 0.003
    assert retention_setting("EVENTS_DAYS") is None
    assert retention_setting("MESSAGE_EVENTS_DAYS") == 180


def test_a_share_is_a_fraction(settings):
    configure(settings, HEALTH={"COMPLAINT_RATE": 0.01})
    assert health_setting("COMPLAINT_RATE") == 0.01


@pytest.mark.parametrize(
    "key,value,named",
    [
        ("HEALTH", {"COMPLAINT_RATE": 3}, "COMPLAINT_RATE"),  # 3, not 0.03
        ("HEALTH", {"FAILURE_RATE": True}, "FAILURE_RATE"),
        ("HEALTH", {"MIN_ORDERS": 0}, "MIN_ORDERS"),
        ("HEALTH", {"PAUSE_ON_COMPLAINTS": "yes"}, "PAUSE_ON_COMPLAINTS"),
        ("HEALTH", {"WINDOW": 60}, "unknown keys"),
        ("HEALTH", [], "must be a dict"),
        ("RETENTION", {"EVENTS_DAYS": 0}, "EVENTS_DAYS"),
        ("RETENTION", {"BATCH_SIZE": None}, "BATCH_SIZE"),
    ],
)
def test_bad_values_are_named(settings, key, value, named):
    configure(settings, **{key: value})
    with pytest.raises(PostpurchaseConfigurationError, match=named):
        get_setting(key)
