"""The NPS survey links (a builtin of the email engine, like ``postpurchase_email``).

``{% nps_url 7 %}`` -> the signed survey page URL of the message being rendered, with
7 preselected. ``{% nps_scale_links as links %}`` -> [(score, url, colour), ...] 0-10.
"""

from __future__ import annotations

from django import template

from postpurchase.conf import get_setting
from postpurchase.nps import SCORES, category_for
from postpurchase.nps import nps_url as url

register = template.Library()

#: Cell colours of the scale: detractors, passives, promoters.
COLOURS = {"detractor": "#e4572e", "passive": "#f3a712", "promoter": "#29a36a"}


@register.simple_tag(takes_context=True)
def nps_url(context, score) -> str:
    return url(context.get("message_id") or "preview", int(score))


@register.simple_tag(takes_context=True)
def nps_scale_links(context) -> list[tuple[int, str, str]]:
    message_id = context.get("message_id") or "preview"
    return [(score, url(message_id, score), COLOURS[category_for(score)]) for score in SCORES]


@register.simple_tag
def review_platforms() -> list[dict[str, str]]:
    """POSTPURCHASE["REVIEW_PLATFORMS"]: where promoters may review the shop."""
    return [dict(p) for p in get_setting("REVIEW_PLATFORMS")]
