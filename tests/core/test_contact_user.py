"""Contact.user: the shop account behind a contact, filled from the adapter's
``user_for()`` hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from postpurchase import signals
from postpurchase.adapters import DefaultAdapter
from postpurchase.exceptions import AdapterError
from postpurchase.models import Contact

from .adapters import FakeAdapter

pytestmark = pytest.mark.django_db


@dataclass
class Order:
    pk: int
    email: str
    user: Any = None
    number: str = ""


class BaseOrders(FakeAdapter):
    """BaseAdapter's user_for(), with the tests' orders."""

    def order_snapshot(self, order):
        return {"email": order.email, "number": str(order.pk)}


class DefaultOrders(DefaultAdapter):
    def order_ref(self, order):
        return f"test.order:{order.pk}"


class WrongUser(BaseOrders):
    def user_for(self, obj, email):
        return email  # not a user


def use(settings, adapter: type) -> None:
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ADAPTER": f"{__name__}.{adapter.__name__}"}


def place(order: Order) -> Contact:
    signals.order_placed.send(sender=Order, order=order)
    return Contact.objects.get(email=order.email.lower())


def make_user(username: str, email: str):
    return get_user_model().objects.create_user(username, email, "pw-12345678")


def test_the_orders_user_becomes_the_contacts(settings):
    use(settings, BaseOrders)
    anna = make_user("anna", "anna@example.com")
    assert place(Order(1, "anna@example.com", user=anna)).user == anna


def test_a_guest_order_keeps_the_user_an_earlier_order_linked(settings):
    use(settings, BaseOrders)
    anna = make_user("anna", "anna@example.com")
    place(Order(1, "anna@example.com", user=anna))
    assert place(Order(2, "anna@example.com")).user == anna


def test_the_base_adapter_does_not_guess_a_guests_account_from_the_address(settings):
    use(settings, BaseOrders)
    make_user("anna", "anna@example.com")
    assert place(Order(1, "anna@example.com")).user is None


def test_the_default_adapter_links_a_guest_to_the_one_user_with_her_address(settings):
    use(settings, DefaultOrders)
    anna = make_user("anna", "Anna@Example.com")
    assert place(Order(1, "ANNA@example.com")).user == anna


def test_the_default_adapter_links_no_one_when_two_users_share_the_address(settings):
    use(settings, DefaultOrders)
    make_user("anna", "anna@example.com")
    make_user("anna2", "ANNA@example.com")
    assert place(Order(1, "anna@example.com")).user is None


def test_a_hook_that_returns_no_user_is_an_adapter_error_naming_it(settings):
    use(settings, WrongUser)
    with pytest.raises(AdapterError, match=r"user_for\(\)"):
        place(Order(1, "anna@example.com"))
