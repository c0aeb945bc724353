"""First-party tracking: an email's links through our signed redirect, an open pixel and
a hidden honeypot link, for shops whose ESP does not track (``FIRST_PARTY_TRACKING``).

Each link's destination is signed into its token (in the URL path: mail apps strip
tracking query parameters), so the redirect can only ever lead where the email's own
link led. The hits are recorded by :mod:`postpurchase.tracking.firstparty`.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from django.urls import reverse

from postpurchase.conf import get_setting, site_url
from postpurchase.public.tokens import track_click_url, track_open_url

#: An ``href`` of an ``<a>`` tag, with its quote.
_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

#: Hidden from people in every mail app (Outlook: mso-hide), still there for a scanner.
_HIDDEN = (
    "display:none!important;mso-hide:all;font-size:0;line-height:0;max-height:0;"
    "max-width:0;opacity:0;overflow:hidden"
)


def tracks(category: str) -> bool:
    """Does first-party tracking apply to emails of ``category``?"""
    if not get_setting("FIRST_PARTY_TRACKING"):
        return False
    return category == "marketing" or bool(get_setting("FIRST_PARTY_TRACK_TRANSACTIONAL"))


def _untracked_prefixes() -> tuple[str, ...]:
    """Our own links that stay as they are: unsubscribing and the preference centre must
    not pass a redirect, and a tracked link is not tracked twice."""
    base = site_url()
    names = (
        "postpurchase:unsubscribe",
        "postpurchase:preferences",
        "postpurchase:track_click",
        "postpurchase:track_open",
    )
    return tuple(base + reverse(name, args=["x"]).rsplit("x/", 1)[0] for name in names)


def track_html(html: str, message_id: Any) -> str:
    """``html`` with each http(s) link through the click redirect, plus the open pixel
    and the honeypot link before ``</body>``."""
    skip = _untracked_prefixes()

    def rewrite(match: re.Match) -> str:
        url = html_lib.unescape(match.group(3)).strip()
        if not url.lower().startswith(("http://", "https://")) or url.startswith(skip):
            return match.group(0)
        tracked = html_lib.escape(track_click_url(message_id, url))
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    html = _HREF.sub(rewrite, html)
    honeypot = html_lib.escape(track_click_url(message_id, site_url() + "/", honeypot=True))
    pixel = html_lib.escape(track_open_url(message_id))
    extra = (
        f'<a href="{honeypot}" style="{_HIDDEN}" aria-hidden="true" tabindex="-1">&#8203;</a>'
        f'<img src="{pixel}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;overflow:hidden">'
    )
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + extra
    at = ends[-1].start()
    return html[:at] + extra + html[at:]
