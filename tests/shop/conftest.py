from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from postpurchase import signals

from .factories import CategoryFactory, ProductFactory, UserFactory

INBOUND = [
    "order_placed",
    "order_paid",
    "order_shipped",
    "order_delivered",
    "order_cancelled",
    "order_refunded",
    "review_submitted",
]


@dataclass
class SignalLog:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def only(self, name: str) -> dict[str, Any]:
        """The kwargs of the single call of ``name``; fails unless it was sent exactly once."""
        matching = [kwargs for n, kwargs in self.calls if n == name]
        assert len(matching) == 1, f"{name} sent {len(matching)} times: {self.names()}"
        return matching[0]


@pytest.fixture
def inbound_signals() -> Iterator[SignalLog]:
    """Records every inbound postpurchase signal the shop sends during the test."""
    log = SignalLog()

    def receiver_for(name: str):
        def receive(sender: Any, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            log.calls.append((name, {"sender": sender, **kwargs}))

        return receive

    for name in INBOUND:
        getattr(signals, name).connect(
            receiver_for(name), weak=False, dispatch_uid=f"tests.shop.{name}"
        )
    yield log
    for name in INBOUND:
        getattr(signals, name).disconnect(dispatch_uid=f"tests.shop.{name}")


@pytest.fixture
def product(db):
    return ProductFactory(
        name="Trekker 45 L",
        slug="trekker-45",
        sku="BP-TRK-45",
        category=CategoryFactory(name="Backpacks", slug="backpacks"),
    )


@pytest.fixture
def customer(db):
    return UserFactory(username="anna", email="anna@example.com")
