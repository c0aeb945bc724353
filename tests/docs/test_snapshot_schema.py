"""The order snapshot's documented types are enforced: for every key docs/integrating.md
gives a type, a value of another type is converted when its meaning is clear and
refused with an error naming the key otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from postpurchase import signals, track
from postpurchase.adapters import clean_snapshot
from postpurchase.exceptions import AdapterError, InvalidEventError
from postpurchase.models import Event
from postpurchase.testing.factories import order_snapshot
from tests.core.adapters import FakeAdapter, FakeOrder

from .tables import code_names, section, tables

SITE = "https://shop.example.com"


def documented_types() -> dict[str, str]:
    """{"number": "str", "items.qty": "int", ...} from the two snapshot tables."""
    order_table, item_table = tables(section("integrating.md", "The order snapshot"))[:2]
    types = {}
    for prefix, table in (("", order_table), ("items.", item_table)):
        for row in table:
            for key in code_names(row["Key"]):
                types[prefix + key] = row["Type"]
    return types


def kind(documented: str) -> str:
    """What a documented type promises, in the words these tests use."""
    for marker, name in [
        ("list of dicts", "list"),
        ("decimal string", "amount"),
        ("ISO datetime", "datetime"),
        ("ISO date", "date"),
        ("absolute URL", "url"),
        ("int", "count"),
        ("str", "text"),
    ]:
        if documented.startswith(marker) or marker in documented:
            return name
    raise AssertionError(f"no test knows the documented type {documented!r}")


TYPES = documented_types()
#: Which converted value each kind stores for a given input, and inputs it refuses.
CONVERTED = {
    "text": [(42, "42"), ("x", "x")],
    "amount": [(Decimal("49.90"), "49.90"), (49.9, "49.9"), (5, "5"), ("on request", "on request")],
    "count": [(2, 2), ("2", 2), (2.0, 2)],
    "date": [(date(2026, 11, 26), "2026-11-26"), ("2026-11-26", "2026-11-26")],
    "datetime": [
        (datetime(2026, 11, 23, 10, tzinfo=UTC), "2026-11-23T10:00:00Z"),
        ("2026-11-23T10:00:00+03:00", "2026-11-23T10:00:00+03:00"),
    ],
    "url": [(f"{SITE}/p/1/", f"{SITE}/p/1/"), ("/p/1/", f"{SITE}/p/1/")],
}
REFUSED = {
    "text": [{"a": 1}, ["a"], True],
    "amount": [{"a": 1}, [1], True],
    "count": ["two", 2.5, [2], False],
    "date": ["26/11/2026", 20261126, {"d": 1}],
    "datetime": ["yesterday", 1, ["2026"]],
    "url": ["javascript:alert(1)", "//evil.example.com/", "shop.example.com/p/1/", 7],
}


@pytest.fixture(autouse=True)
def _site(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "SITE_URL": SITE,
        "ADAPTER": "tests.core.adapters.FakeAdapter",
    }


def snapshot_with(key: str, value) -> dict:
    snapshot = order_snapshot(items=1)
    if key.startswith("items."):
        snapshot["items"][0][key.removeprefix("items.")] = value
    else:
        snapshot[key] = value
    return snapshot


def stored(snapshot: dict, key: str):
    if key.startswith("items."):
        return snapshot["items"][0][key.removeprefix("items.")]
    return snapshot[key]


def error_name(key: str) -> str:
    return (
        "order.items[0]." + key.removeprefix("items.")
        if key.startswith("items.")
        else f"order.{key}"
    )


CHECKED = sorted(k for k, t in TYPES.items() if kind(t) != "list" and k != "email")


def test_the_docs_give_types_to_the_keys_the_templates_use():
    assert {"number", "total", "placed_at", "order_url", "items.qty", "items.ready_after"} <= set(
        CHECKED
    )


@pytest.mark.parametrize("key", CHECKED)
def test_a_documented_key_gets_its_documented_type(key):
    for given, expected in CONVERTED[kind(TYPES[key])]:
        assert stored(clean_snapshot(snapshot_with(key, given)), key) == expected, given


@pytest.mark.parametrize("key", CHECKED)
def test_a_value_of_another_type_is_refused_naming_the_key(key):
    for given in REFUSED[kind(TYPES[key])]:
        with pytest.raises(AdapterError, match=rf"^{error_name(key)}\b".replace("[", r"\[")):
            clean_snapshot(snapshot_with(key, given))


@pytest.mark.parametrize("key", CHECKED)
def test_a_missing_or_empty_value_stays_as_given(key):
    for given in (None, ""):
        assert stored(clean_snapshot(snapshot_with(key, given)), key) == given


class IntNumberAdapter(FakeAdapter):
    """A shop whose order numbers are integers, returned as they are."""

    def order_snapshot(self, order):
        return {**super().order_snapshot(order), "number": order.pk}


@pytest.mark.django_db
def test_an_int_order_number_is_stored_as_the_documented_string(settings):
    adapter = f"{__name__}.IntNumberAdapter"
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": adapter}
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1001))
    assert Event.objects.get().snapshot["number"] == "1001"


@pytest.mark.django_db
def test_track_refuses_an_order_whose_key_has_the_wrong_type_naming_it():
    with pytest.raises(InvalidEventError, match=r"data\['order'\]\.total"):
        track("order_placed", email="anna@example.com", data={"order": {"total": {"x": 1}}})
    assert not Event.objects.exists()
