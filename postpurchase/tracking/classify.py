"""Human or machine: which opens and clicks a person made.

Every open and click, from an ESP's webhook or from first-party tracking, goes through
:func:`classify` before it is stored. Each rule below looks at one :class:`Hit` and
returns a reason code when a machine made it (the first rule that answers wins; the
code is stored as ``MessageEvent.machine_reason``), else None. Reports, ConditionStep's
opened / clicked checks and ``Message.opened_at`` / ``clicked_at`` count human events
only; machine ones are counted apart (``Message.machine_opens``, ``machine_clicks``).

The rules, in the order they run (docs/tracking.md explains each):

=================  ========================================================================
``esp_flag``       the ESP says so: SendGrid ``sg_machine_open``, Mailgun
                   ``client-info.bot``, Brevo's ``proxy_open`` / ``unique_proxy_open``
``apple_mpp``      an open by Apple Mail Privacy Protection's prefetch: the bare
                   ``Mozilla/5.0`` user agent, or an address of Apple's 17.0.0.0/8
``proxy_prefetch`` an open by a mail provider's image proxy (Google, Yahoo) within
                   ``MACHINE_CLICK_SECONDS`` of sending or delivery: fetched on arrival
``head_request``   first party: a HEAD request (a link checker; browsers GET)
``no_user_agent``  first party: a request with no user agent at all
``scanner_agent``  a known security scanner, crawler or HTTP library user agent
``network``        an address in ``POSTPURCHASE["MACHINE_NETWORKS"]``
``honeypot``       first party: the hidden link in the email, which no person sees
``too_soon``       a click within ``MACHINE_CLICK_SECONDS`` of sending or delivery
``click_burst``    a click within ``MACHINE_BURST_SECONDS`` of a click on another link
                   of the same email (a scanner follows every link at once)
=================  ========================================================================

Shops add rules with ``POSTPURCHASE["MACHINE_CLASSIFIERS"]``: dotted paths of
functions ``(hit: Hit) -> str | None``, run after the built-in ones.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from postpurchase.conf import get_setting

if TYPE_CHECKING:
    from postpurchase.models import Message, MessageEvent

logger = logging.getLogger("postpurchase.tracking")

#: The ESP name first-party tracking records its events under.
FIRST_PARTY = "first-party"

ESP_FLAG = "esp_flag"
APPLE_MPP = "apple_mpp"
PROXY_PREFETCH = "proxy_prefetch"
HEAD_REQUEST = "head_request"
NO_USER_AGENT = "no_user_agent"
SCANNER_AGENT = "scanner_agent"
NETWORK = "network"
HONEYPOT = "honeypot"
TOO_SOON = "too_soon"
CLICK_BURST = "click_burst"

OPENED, CLICKED = "opened", "clicked"

#: What staff read for each built-in reason (a shop's own codes show as they are).
REASON_LABELS = {
    ESP_FLAG: _("the ESP marked it as a machine"),
    APPLE_MPP: _("Apple Mail Privacy Protection prefetch"),
    PROXY_PREFETCH: _("mail provider's image proxy, on arrival"),
    HEAD_REQUEST: _("HEAD request (a link checker)"),
    NO_USER_AGENT: _("no user agent"),
    SCANNER_AGENT: _("security scanner or bot user agent"),
    NETWORK: _("address in MACHINE_NETWORKS"),
    HONEYPOT: _("hidden honeypot link"),
    TOO_SOON: _("clicked seconds after sending"),
    CLICK_BURST: _("clicks on several links within a second"),
}

#: Apple's own address block, where Mail Privacy Protection's prefetches come from.
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
#: The user agent Apple's prefetch proxy sends, and nothing else does.
APPLE_PROXY_AGENT = "Mozilla/5.0"
#: Image proxies of mail providers: they fetch when the reader opens the email, except
#: when they prefetch it on arrival.
IMAGE_PROXY_AGENT = re.compile(r"GoogleImageProxy|YahooMailProxy", re.IGNORECASE)
#: Security scanners, link checkers, crawlers and HTTP libraries (not browsers, not mail
#: apps: "Microsoft Office" is Outlook; "CUBOT P40" is a phone, not a "...bot").
SCANNER_AGENT_PATTERN = re.compile(
    r"(?<!cu)bot(?:[/;\s)-]|$)|crawl|spider|scan|preview|"
    r"barracuda|mimecast|proofpoint|urldefense|safelinks|symantec|trend ?micro|"
    r"fortiguard|sophos|forcepoint|cisco|zscaler|checkpoint|bitdefender|"
    r"python-|curl/|wget/|go-http-client|java/|okhttp|libwww|httpclient|axios/|node-fetch|"
    r"headless|phantomjs",
    re.IGNORECASE,
)


@dataclass
class Hit:
    """What a rule sees of one open or click, before it is stored.

    ``event`` is the unsaved MessageEvent (kind, occurred_at, esp, url, user_agent, ip);
    ``raw`` the ESP's event as it came (first party: ``{"method", "honeypot", ...}``);
    ``message`` our Message or None; ``delivered_at`` the first delivery known (stored
    or reported earlier in the same post); ``neighbours`` the (time, url) of the
    message's other clicks close in time, stored or in the same post."""

    event: MessageEvent
    raw: Any
    message: Message | None = None
    delivered_at: datetime | None = None
    neighbours: Sequence[tuple[datetime, str]] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def first_party(self) -> dict[str, Any]:
        if self.event.esp != FIRST_PARTY or not isinstance(self.raw, dict):
            return {}
        return self.raw

    def seconds_after_sending(self) -> float | None:
        """Seconds from sending or delivery (the closer) to the event; None if unknown."""
        times = [t for t in (self.delivered_at, getattr(self.message, "sent_at", None)) if t]
        if not times:
            return None
        return min(abs((self.event.occurred_at - t).total_seconds()) for t in times)

    def on_arrival(self) -> bool:
        """Within ``MACHINE_CLICK_SECONDS`` of sending or delivery."""
        seconds = self.seconds_after_sending()
        return seconds is not None and seconds <= get_setting("MACHINE_CLICK_SECONDS")


Rule = Callable[[Hit], "str | None"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def esp_flag(hit: Hit) -> str | None:
    raw = _dict(hit.raw)
    if str(raw.get("sg_machine_open", "")).lower() == "true":  # SendGrid
        return ESP_FLAG
    if raw.get("event") in ("proxy_open", "unique_proxy_open"):  # Brevo
        return ESP_FLAG
    client = _dict(_dict(raw.get("event-data")).get("client-info"))
    if client.get("bot"):  # Mailgun: "apple", "gmail", "generic"
        return ESP_FLAG
    return None


def _address(hit: Hit):
    try:
        return ipaddress.ip_address(hit.event.ip) if hit.event.ip else None
    except ValueError:
        return None


def apple_mpp(hit: Hit) -> str | None:
    if hit.kind != OPENED:
        return None
    if hit.event.user_agent.strip() == APPLE_PROXY_AGENT:
        return APPLE_MPP
    address = _address(hit)
    if address is not None and any(address in net for net in APPLE_NETWORKS):
        return APPLE_MPP
    return None


def proxy_prefetch(hit: Hit) -> str | None:
    if hit.kind == OPENED and IMAGE_PROXY_AGENT.search(hit.event.user_agent) and hit.on_arrival():
        return PROXY_PREFETCH
    return None


def head_request(hit: Hit) -> str | None:
    return HEAD_REQUEST if hit.first_party.get("method") == "HEAD" else None


def no_user_agent(hit: Hit) -> str | None:
    # ESPs often leave the user agent out of their events; only our own requests tell.
    return NO_USER_AGENT if hit.first_party and not hit.event.user_agent.strip() else None


def scanner_agent(hit: Hit) -> str | None:
    agent = hit.event.user_agent.strip()
    if agent and SCANNER_AGENT_PATTERN.search(agent):
        return SCANNER_AGENT
    return None


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def network(hit: Hit) -> str | None:
    address = _address(hit)
    if address is None:
        return None
    if any(address in net for net in _networks(tuple(get_setting("MACHINE_NETWORKS")))):
        return NETWORK
    return None


def honeypot(hit: Hit) -> str | None:
    return HONEYPOT if hit.first_party.get("honeypot") else None


def too_soon(hit: Hit) -> str | None:
    return TOO_SOON if hit.kind == CLICKED and hit.on_arrival() else None


def click_burst(hit: Hit) -> str | None:
    if hit.kind != CLICKED:
        return None
    window = get_setting("MACHINE_BURST_SECONDS")
    at, url = hit.event.occurred_at, hit.event.url
    for other_at, other_url in hit.neighbours:
        if other_url != url and abs((other_at - at).total_seconds()) <= window:
            return CLICK_BURST
    return None


#: The built-in rules, in the order they run.
RULES: tuple[Rule, ...] = (
    esp_flag,
    apple_mpp,
    proxy_prefetch,
    head_request,
    no_user_agent,
    scanner_agent,
    network,
    honeypot,
    too_soon,
    click_burst,
)


@lru_cache(maxsize=8)
def _shop_rules(paths: tuple[Any, ...]) -> tuple[Rule, ...]:
    return tuple(import_string(p) if isinstance(p, str) else p for p in paths)


def rules() -> tuple[Rule, ...]:
    """The built-in rules, then the shop's ``MACHINE_CLASSIFIERS``."""
    return RULES + _shop_rules(tuple(get_setting("MACHINE_CLASSIFIERS")))


def reason_label(code: str) -> str:
    """The reason code as staff read it."""
    return str(REASON_LABELS.get(code, code))


def classify(hit: Hit, rule_list: Sequence[Rule] | None = None) -> str:
    """Why a machine made ``hit`` (a reason code), or "" when a person did. Only opens
    and clicks are classified; a shop rule that raises is logged and skipped.
    ``rule_list`` defaults to :func:`rules` (a batch passes it, read once)."""
    if hit.kind not in (OPENED, CLICKED):
        return ""
    for rule in rules() if rule_list is None else rule_list:
        try:
            reason = rule(hit)
        except Exception:
            if rule in RULES:
                raise
            logger.exception(
                "postpurchase: machine classifier %r failed on event %s", rule, hit.event.event_id
            )
            continue
        if reason:
            return str(reason)[:40]
    return ""
