"""Oscar's checkout with the forked checkout app of docs/oscar.md: its own order
confirmation is left out, postpurchase's thank-you is the one email."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import mail
from django.core.management import call_command
from django.test import RequestFactory
from oscar.apps.checkout import mixins as oscar_mixins
from oscar.core.loading import get_class

from .conftest import basket_for, place_order

pytestmark = pytest.mark.django_db

PaymentDetailsView = get_class("checkout.views", "PaymentDetailsView")


def checkout_view():
    request = RequestFactory().post("/checkout/preview/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = AnonymousUser()
    view = PaymentDetailsView()
    view.setup(request)
    view.checkout_session = get_class("checkout.utils", "CheckoutSessionData")(request)
    return view


def test_oscars_confirmation_is_left_out(series, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product), guest_email="anna@example.com")
    [thanks] = mail.outbox

    view = checkout_view()
    view.handle_successful_order(order)  # what Oscar's checkout runs after placing it

    assert mail.outbox == [thanks]


def test_without_the_fork_oscar_would_send_its_own(product, django_capture_on_commit_callbacks):
    """The control: Oscar's stock mixin mails ORDER_PLACED to the guest."""
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(basket_for(product=product), guest_email="anna@example.com")
    oscar_mixins.OrderPlacementMixin.send_order_placed_email(checkout_view(), order)
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]


def test_the_shop_passes_the_system_checks(settings):
    call_command("check", "--fail-level", "ERROR")


def test_a_wrong_adapter_is_reported(settings):
    from postpurchase.contrib.oscar.checks import check_adapter

    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "ADAPTER": "postpurchase.adapters.DefaultAdapter",
    }
    assert [w.id for w in check_adapter()] == ["postpurchase_oscar.W001"]


def test_the_apps_migrations_match_its_models(settings):
    settings.MIGRATION_MODULES = {}  # the suite runs --nomigrations; this reads them
    call_command("makemigrations", "postpurchase_oscar", "--check", "--dry-run")
