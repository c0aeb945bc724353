from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from postpurchase.models import CouponPolicy
from postpurchase.testing.factories import ContactFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def policy(db):
    return CouponPolicy.objects.create(
        name="10% off the next order",
        kind=CouponPolicy.Kind.PERCENT,
        percent=Decimal("10"),
        currency="RUB",
        minimum_total=Decimal("1000"),
        validity_days=30,
        uses_per_code=1,
        code_prefix="THX-",
        code_length=12,
    )


@pytest.fixture
def contact(db):
    return ContactFactory(email="anna@example.com", locale="en", timezone="Europe/Moscow")


class RecordingAdapter:
    """Wraps the configured adapter and records the coupon hooks."""

    def __init__(self):
        self.mirrored = []
        self.expired = []

    def mirror_coupon(self, coupon):
        self.mirrored.append(coupon.code)

    def coupon_expired(self, coupon):
        self.expired.append(coupon.code)


@pytest.fixture
def hooks(monkeypatch):
    adapter = RecordingAdapter()
    monkeypatch.setattr("postpurchase.coupons.get_adapter", lambda: adapter)
    return adapter
