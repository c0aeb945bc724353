"""``{% postpurchase_health_banner %}``: the open incidents of the health monitor, for
the admin's pages. One small indexed query (open incidents), nothing computed."""

from __future__ import annotations

from typing import Any

from django import template

from postpurchase.monitoring import describe, open_incidents

register = template.Library()


@register.inclusion_tag("admin/postpurchase/health_banner.html")
def postpurchase_health_banner() -> dict[str, Any]:
    return {"incidents": [(incident, describe(incident)) for incident in open_incidents()]}
