"""Shared fixtures. The suite runs on SQLite by default; DATABASE_URL=postgres://...
runs it on PostgreSQL and enables the tests marked ``postgres``."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from django.core import mail

from postpurchase import clock, shutdown
from postpurchase.testing.esp import fake_esp

CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    with_redis = os.environ.get("POSTPURCHASE_TEST_REDIS") == "1"
    has_browser = os.path.exists(CHROMIUM)
    if not has_browser and os.environ.get("POSTPURCHASE_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required but {CHROMIUM} is missing")
    for item in items:
        if "browser" in item.keywords and not has_browser:
            item.add_marker(pytest.mark.skip(reason=f"needs Debian's chromium at {CHROMIUM}"))
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL=postgres://..."))
        if "redis" in item.keywords and not (with_redis and on_postgres):
            item.add_marker(
                pytest.mark.skip(reason="needs POSTPURCHASE_TEST_REDIS=1 and PostgreSQL")
            )


@pytest.fixture(autouse=True)
def _postpurchase_test_settings(settings):
    """No mail files, loud signal errors, a clean outbox for every test."""
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "MAIL_DIR": None,
        "SIGNAL_ERRORS": "raise",
        # Wake-ups run in the test's own thread (and transaction); tests of the embedded
        # default's background thread set "inline" themselves.
        "EXECUTION": "sync",
    }
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    shutdown.clear()
    yield
    shutdown.clear()
    mail.outbox = []


@pytest.fixture
def clean_cache():
    """An empty cache before and after: the attempt limits of the public pages count in it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen():
    """A simulated clock frozen at a fixed moment; advance it with ``frozen.advance()``."""
    with clock.frozen_at(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) as simulated:
        yield simulated


@pytest.fixture
def fake_postmark(settings):
    """Anymail's real Postmark backend, only its HTTP API faked (``fake_esp``; the
    ``postmark`` fixture of tests/delivery is an older, simpler fake)."""
    with fake_esp("postmark") as fake:
        settings.EMAIL_BACKEND = fake.backend
        settings.ANYMAIL = fake.anymail
        yield fake


@pytest.fixture
def default_flow(db):
    """The shipped post-purchase series, installed and live."""
    from postpurchase import recipes

    return recipes.install("post-purchase-series", live=True)
