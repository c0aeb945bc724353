"""System checks of the Oscar integration (registered by its AppConfig.ready)."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register

from postpurchase.adapters import get_adapter
from postpurchase.contrib.oscar.adapter import OscarAdapter
from postpurchase.exceptions import PostpurchaseConfigurationError


@register(Tags.compatibility)
def check_adapter(app_configs=None, **kwargs):
    """Without the Oscar adapter the forwarded signals reach an adapter that cannot read
    Oscar's orders, and codes are not mirrored as vouchers."""
    try:
        adapter = get_adapter()
    except PostpurchaseConfigurationError:
        return []  # postpurchase.E004 reports it
    if isinstance(adapter, OscarAdapter):
        return []
    return [
        Warning(
            '"postpurchase.contrib.oscar" is installed but POSTPURCHASE["ADAPTER"] is not '
            "postpurchase.contrib.oscar.adapter.OscarAdapter or a subclass of it: Oscar's "
            "orders cannot be read, and coupon codes are not mirrored as vouchers.",
            hint='Set POSTPURCHASE["ADAPTER"] = '
            '"postpurchase.contrib.oscar.adapter.OscarAdapter" (see docs/oscar.md).',
            id="postpurchase_oscar.W001",
        )
    ]
