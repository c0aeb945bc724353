from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .cart import Cart
from .models import Category


def shop(request: HttpRequest) -> dict[str, Any]:
    """Navigation data every shop page shows (categories, cart size)."""
    if not hasattr(request, "session"):
        return {}
    return {
        "nav_categories": Category.objects.all(),
        "cart_count": len(Cart(request.session)),
    }
