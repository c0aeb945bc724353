"""``{% postpurchase_health_banner %}``: the open incidents of the health monitor, for
the admin's pages. One small indexed query (open incidents), nothing computed; none for
staff who may not view incidents (they see no banner)."""

from __future__ import annotations

from typing import Any

from django import template

from postpurchase.monitoring import describe, open_incidents

register = template.Library()

#: Who sees the banner: those who may open the incident pages it links to.
VIEW_PERMISSION = "postpurchase.view_incident"


@register.inclusion_tag("admin/postpurchase/health_banner.html", takes_context=True)
def postpurchase_health_banner(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is not None and not user.has_perm(VIEW_PERMISSION):
        return {"incidents": []}
    return {"incidents": [(incident, describe(incident)) for incident in open_incidents()]}
