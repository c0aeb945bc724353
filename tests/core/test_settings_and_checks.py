from __future__ import annotations

import pytest
from django.core.checks import run_checks

from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError


def ids(settings_errors):
    return {e.id for e in settings_errors}


def test_defaults_are_used(settings):
    settings.POSTPURCHASE = {}
    assert get_setting("BATCH_SIZE") == 200


@pytest.mark.parametrize(
    "key, value",
    [
        ("EXECUTION", "threads"),
        ("BATCH_SIZE", 0),
        ("BATCH_SIZE", "10"),
        ("LANGUAGES", []),
        ("BRAND", "x"),
        ("OSCAR_ORDER_STATUSES", ["Shipped"]),
        ("OSCAR_ORDER_STATUSES", {"Shipped": "order_shipped"}),
    ],
)
def test_bad_values_name_the_key(settings, key, value):
    settings.POSTPURCHASE = {key: value}
    with pytest.raises(PostpurchaseConfigurationError, match=key):
        get_setting(key)
    assert "postpurchase.E003" in ids(run_checks())


def test_unknown_key_is_a_check_error(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "BATCHSIZE": 10}
    assert "postpurchase.E002" in ids(run_checks())


def test_bad_adapter_is_a_check_error(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "no.such.Adapter"}
    assert "postpurchase.E004" in ids(run_checks())
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "builtins.dict"}
    assert "postpurchase.E004" in ids(run_checks())


def test_relative_site_url_is_a_check_error(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SITE_URL": "/shop"}
    assert "postpurchase.E006" in ids(run_checks())


def test_project_is_clean(settings):
    # As the example shop ships: a development project (DEBUG on), so its per-process
    # default cache is fine for the attempt limits (W003 is for production).
    settings.DEBUG = True
    errors = [e for e in run_checks() if e.id.startswith("postpurchase")]
    assert errors == []


def test_non_dict_setting(settings):
    settings.POSTPURCHASE = ["x"]
    with pytest.raises(PostpurchaseConfigurationError, match="must be a dict"):
        get_setting("BATCH_SIZE")


def test_oscar_status_map_is_read(settings):
    settings.POSTPURCHASE = {"OSCAR_ORDER_STATUSES": {"Versandt": "shipped"}}
    assert get_setting("OSCAR_ORDER_STATUSES") == {"Versandt": "shipped"}
    settings.POSTPURCHASE = {}
    assert get_setting("OSCAR_ORDER_STATUSES") == {}
