"""What the shop sends that the database cannot hold as it is: every such value is
either normalised (with a warning naming the field) or refused with an error naming
the field, and nothing else of the order is lost."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from postpurchase import signals, track
from postpurchase.exceptions import AdapterError, InvalidEventError
from postpurchase.models import Contact, Enrollment, Event
from postpurchase.testing.factories import EmailStepFactory, FlowFactory

from .adapters import FakeOrder
from .helpers import place

pytestmark = pytest.mark.django_db

#: 64 + 1 + 235 = 300 characters: Django's validator takes up to 320, the column 254.
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + "." + "c" * 52 + ".com"


@pytest.fixture(autouse=True)
def fake_adapter(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": "tests.core.adapters.FakeAdapter"}


@pytest.fixture
def flow():
    return EmailStepFactory(flow=FlowFactory(trigger="order_placed")).flow


@pytest.fixture
def warnings(caplog):
    caplog.set_level(logging.WARNING, logger="postpurchase")
    return caplog


def warned_about(caplog, field: str) -> bool:
    return any(field in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_the_long_email_is_really_longer_than_the_column():
    assert 254 < len(LONG_EMAIL) <= 320


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ru-RU-x-very-long-private-use-tag", "ru-ru"),
        ("pt_BR", "pt-br"),
        ("zh-Hant-TW-u-ca-chinese-nu-hanidec", "zh-hant-tw"),
        ("uk", "uk"),
    ],
)
def test_a_long_locale_is_trimmed_to_its_language_code(flow, warnings, given, stored):
    place(locale=given)
    assert Contact.objects.get().locale == stored
    assert Enrollment.objects.filter(flow=flow).count() == 1
    if len(given) > 16:
        assert warned_about(warnings, "contact.locale")


def test_a_locale_that_is_no_language_code_is_ignored(flow, warnings):
    place(locale="en")
    place(number="2", locale="!" * 40)
    assert Contact.objects.get().locale == "en"  # the last good one is kept
    assert Enrollment.objects.count() == 2
    assert warned_about(warnings, "contact.locale")


def test_an_order_from_the_adapter_with_a_long_locale_enrolls(flow, warnings):
    signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1, locale="ru-RU-" + "x" * 30))
    assert Contact.objects.get().locale == "ru-ru"
    assert Enrollment.objects.get().order_ref == "fake.order:1"


def test_a_timezone_that_is_no_time_zone_is_ignored(flow, warnings):
    track("order_placed", email="anna@example.com", contact={"timezone": "Europe/" + "M" * 80})
    assert Contact.objects.get().timezone == ""
    assert warned_about(warnings, "contact.timezone")
    assert Enrollment.objects.count() == 1


def test_an_email_longer_than_the_column_is_refused_naming_the_field(flow):
    with pytest.raises(InvalidEventError, match="email") as caught:
        track("order_placed", email=LONG_EMAIL)
    assert "254" in str(caught.value)
    with pytest.raises(AdapterError, match="email") as caught:
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1, email=LONG_EMAIL))
    assert "254" in str(caught.value)
    assert Contact.objects.count() == 0


def test_a_refused_order_costs_no_other_customer_their_enrollment(flow, settings, caplog):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SIGNAL_ERRORS": "log"}
    with transaction.atomic():
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1, email=LONG_EMAIL))
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=2))
    assert list(Enrollment.objects.values_list("order_ref", flat=True)) == ["fake.order:2"]
    assert "email" in caplog.text


def test_an_order_reference_longer_than_the_column_is_refused_naming_it(flow):
    with pytest.raises(InvalidEventError, match="order_ref"):
        track("order_placed", email="anna@example.com", order_ref="shop.order:" + "9" * 200)
    assert Event.objects.count() == 0


def test_nul_bytes_are_stripped_with_a_warning_naming_each_field(flow, warnings):
    items = [{"sku": "BP-1", "name": "Back\x00pack", "qty": 1, "price": "10"}]
    signals.order_placed.send(
        sender=FakeOrder,
        order=FakeOrder(pk=1, extra={"first_name": "An\x00na", "note\x00": "x\x00y"}, lines=items),
    )
    contact = Contact.objects.get()
    assert contact.first_name == "Anna"
    event = Event.objects.get()
    assert event.snapshot["items"][0]["name"] == "Backpack"
    assert event.snapshot["note"] == "xy"
    assert Enrollment.objects.get().snapshot["first_name"] == "Anna"
    for field in ("order.first_name", "order.items[0].name", "order.note"):
        assert warned_about(warnings, field), field


def test_nul_bytes_in_track_arguments_are_stripped(flow, warnings):
    track(
        "order_placed",
        email="anna@example.com",
        data={"order": {"number": "1\x00"}, "source": "we\x00b"},
        order_ref="shop.order:\x001",
        contact={"last_name": "Pet\x00rova", "locale": "ru\x00"},
    )
    event = Event.objects.get()
    assert (event.order_ref, event.snapshot["number"], event.data["source"]) == (
        "shop.order:1",
        "1",
        "web",
    )
    contact = Contact.objects.get()
    assert (contact.last_name, contact.locale) == ("Petrova", "ru")
    for field in ("order_ref", "event.order.number", "event.source", "contact.last_name"):
        assert warned_about(warnings, field), field


def test_a_nul_byte_in_the_email_is_refused_naming_the_field(flow):
    with pytest.raises(InvalidEventError, match="email"):
        track("order_placed", email="anna\x00@example.com")
    with pytest.raises(AdapterError, match="email"):
        signals.order_placed.send(sender=FakeOrder, order=FakeOrder(pk=1, email="an\x00na@x.com"))
