"""A session cart: ``{product_id: qty}`` in the session, products read fresh each time."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.sessions.backends.base import SessionBase

from .models import Product

SESSION_KEY = "cart"
MAX_QTY = 99


@dataclass(frozen=True)
class CartLine:
    product: Product
    qty: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.qty


class Cart:
    def __init__(self, session: SessionBase):
        self.session = session
        raw = session.get(SESSION_KEY) or {}
        # Session JSON keys are strings; keep only sane entries from older sessions.
        self._items: dict[str, int] = {
            str(k): int(v) for k, v in raw.items() if str(k).isdigit() and int(v) > 0
        }

    def __len__(self) -> int:
        return sum(self._items.values())

    def __bool__(self) -> bool:
        return bool(self._items)

    def quantity(self, product: Product) -> int:
        return self._items.get(str(product.pk), 0)

    def add(self, product: Product, qty: int = 1) -> None:
        self.set(product, self.quantity(product) + qty)

    def set(self, product: Product, qty: int) -> None:
        """Set a line's quantity; 0 or less removes it."""
        if qty <= 0:
            self._items.pop(str(product.pk), None)
        else:
            self._items[str(product.pk)] = min(qty, MAX_QTY)
        self._save()

    def remove(self, product: Product) -> None:
        self.set(product, 0)

    def clear(self) -> None:
        self._items = {}
        self._save()

    def lines(self) -> list[CartLine]:
        """Lines for products still on sale, in the order they were added."""
        products = Product.objects.filter(pk__in=self._items, is_active=True).select_related(
            "category"
        )
        by_pk = {str(p.pk): p for p in products}
        return [CartLine(by_pk[pk], qty) for pk, qty in self._items.items() if pk in by_pk]

    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines()), Decimal("0"))

    def _save(self) -> None:
        self.session[SESSION_KEY] = dict(self._items)
        self.session.modified = True
