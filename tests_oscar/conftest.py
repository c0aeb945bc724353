"""Fixtures of the Oscar integration's tests: a real django-oscar 4 shop on SQLite."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.test import TestCase
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from postpurchase import clock, engine, recipes, shutdown

Basket = get_model("basket", "Basket")
Default = get_class("partner.strategy", "Default")
Free = get_class("shipping.methods", "Free")
OrderCreator = get_class("order.utils", "OrderCreator")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
Applicator = get_class("offer.applicator", "Applicator")


@pytest.fixture(autouse=True)
def _postpurchase_test_settings(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "SIGNAL_ERRORS": "raise",
        "EXECUTION": "sync",
        "MAIL_DIR": None,
    }
    mail.outbox = []
    shutdown.clear()
    yield
    shutdown.clear()


@pytest.fixture(autouse=True)
def no_forwarding_errors(caplog):
    """The receivers log instead of raising (the order is placed already): a test
    fails on what they logged, unless it expects it and clears ``caplog``."""
    caplog.set_level(logging.WARNING, logger="postpurchase")
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def frozen():
    with clock.frozen_at(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) as simulated:
        yield simulated


@pytest.fixture
def series(db):
    """The shipped post-purchase series, live."""
    return recipes.install("post-purchase-series", live=True)


@pytest.fixture
def product(db):
    return factories.create_product(
        title="Trail backpack", upc="BP-1", price=Decimal("50.00"), num_in_stock=10
    )


def basket_for(user=None, product=None, quantity=1):
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    basket.add_product(product, quantity)
    return basket


def place_order(basket, user=None, *, guest_email="", number=None, capture=None):
    """Place the basket's order through Oscar's OrderCreator, the way its checkout does
    (with the committed transaction's callbacks run, as after a real request)."""
    user = user or AnonymousUser()  # what a guest's request carries
    Applicator().apply(basket, user)
    shipping = Free()
    charge = shipping.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, charge)
    kwargs = {"guest_email": guest_email} if guest_email else {}
    order = OrderCreator().place_order(
        basket=basket,
        total=total,
        shipping_method=shipping,
        shipping_charge=charge,
        user=user,
        shipping_address=factories.ShippingAddressFactory(),
        order_number=number,
        **kwargs,
    )
    basket.submit()
    return order


def run_clock(frozen, days: int = 30) -> None:
    """Run what comes due over ``days`` of the simulated clock, each pass committed."""
    start = frozen.now
    while True:
        with TestCase.captureOnCommitCallbacks(execute=True):
            engine.run_due()
        due = engine.next_due_at()
        if due is None or due > start + timedelta(days=days):
            return
        frozen.set(max(due, frozen.now))
