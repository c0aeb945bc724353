"""Adapters for tests: orders are plain objects, so the core tests need no shop."""

from __future__ import annotations

from dataclasses import dataclass, field

from postpurchase.adapters import BaseAdapter
from postpurchase.testing.factories import order_snapshot


@dataclass
class FakeOrder:
    pk: int
    email: str = "anna@example.com"
    locale: str = "en"
    extra: dict = field(default_factory=dict)
    lines: list | None = None  # the snapshot's items, if not the factory's


class FakeAdapter(BaseAdapter):
    def order_ref(self, order):
        return f"fake.order:{order.pk}"

    def order_snapshot(self, order):
        snapshot = order_snapshot(
            email=order.email, number=str(order.pk), locale=order.locale, **order.extra
        )
        if order.lines is not None:
            snapshot["items"] = order.lines
        return snapshot

    def review_ref(self, review):
        return f"fake.review:{review['id']}"

    def review_snapshot(self, review):
        return {"email": review["email"], "order_ref": f"fake.order:{review['order']}", "rating": 5}


class BrokenAdapter(FakeAdapter):
    def order_snapshot(self, order):
        return {"number": order.pk}  # no email
