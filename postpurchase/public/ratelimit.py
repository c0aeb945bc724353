"""Attempt limits for the public endpoints (the NPS survey, the preference centre,
coupon codes at checkout).

Counting is one atomic ``cache.incr`` per attempt, made *before* the attempt goes
ahead, so concurrent attempts cannot all slip under the limit: of 50 requests at once
against a limit of 10, exactly 10 get through. ``incr`` is atomic on Redis and
Memcached, and within one process on ``LocMemCache``; the database and file caches
read and write, so under concurrency they may count less (system check
``postpurchase.W003`` names them).

What is counted, and per what, depends on what the request carries:

- a **signed link** (the NPS survey) cannot be guessed: the token is checked first, a
  valid one is never refused because of junk from the same address, and only invalid
  attempts count against the client's address (:func:`client_address`);
- a **coupon code** is the secret being guessed, so every attempt counts against the
  client before the code is looked up, and an accepted code gives its attempt back
  (:func:`give_back`), leaving only refused codes counted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from django.utils.module_loading import import_string

from postpurchase.conf import get_setting
from postpurchase.counters import increment

logger = logging.getLogger("postpurchase.public")


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` per key in ``window`` seconds (from the first attempt)."""

    scope: str
    attempts: int
    window: int


#: POSTs with a bad or unknown survey token, per client address.
NPS_BAD_TOKENS = Limit("nps-bad-token", attempts=20, window=600)
#: Answers posted to one survey link, from anywhere: each change sends nps_submitted.
NPS_ANSWERS = Limit("nps-answer", attempts=20, window=600)
#: POSTs with a bad or unknown preference-centre token, per client address.
PREFERENCES_BAD_TOKENS = Limit("preferences-bad-token", attempts=20, window=600)
#: Changes posted from one contact's preference centre, from anywhere.
PREFERENCES_CHANGES = Limit("preferences-change", attempts=20, window=600)
#: Coupon codes tried and refused, per client address (see postpurchase.coupons).
COUPON_CODES = Limit("coupon-code", attempts=10, window=600)


def limiter_cache() -> BaseCache:
    return caches[get_setting("ATTEMPT_LIMIT_CACHE")]


def _cache_key(limit: Limit, key: str) -> str:
    # Hashed: a client key may come from a header, and Memcached refuses spaces and
    # keys over 250 characters.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"postpurchase:attempts:{limit.scope}:{digest}"


def take(limit: Limit, key: str) -> bool:
    """Count one attempt by ``key``; True while it is within ``limit`` (go ahead),
    False once the window's attempts are spent (refuse without trying)."""
    try:
        return increment(limiter_cache(), _cache_key(limit, key), limit.window) <= limit.attempts
    except Exception:
        # The cache is down: keep the shop's pages working rather than refuse everyone.
        logger.warning("postpurchase: attempt limit cache unavailable; %s not limited", limit.scope)
        return True


def give_back(limit: Limit, key: str) -> None:
    """Undo one :func:`take` whose attempt turned out valid, so it does not count."""
    try:
        limiter_cache().decr(_cache_key(limit, key))
    except ValueError:
        pass  # the window ended meanwhile; nothing left to give back
    except Exception:
        logger.warning("postpurchase: attempt limit cache unavailable; %s", limit.scope)


# --- who is asking --------------------------------------------------------------------


def client_address(request: HttpRequest) -> str:
    """The client a request comes from, as ``POSTPURCHASE["CLIENT_IP"]`` says: None is
    ``REMOTE_ADDR``; a ``request.META`` key (``"HTTP_X_FORWARDED_FOR"``) is read as set
    by ``CLIENT_IP_PROXIES`` trusted proxies, each appending the address it saw, so the
    entry that many places from the right is the client (whatever the client wrote
    further left is ignored); a dotted path is a function(request) -> str."""
    source = get_setting("CLIENT_IP")
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    if source is None:
        return remote
    if callable(source):
        return str(source(request))
    if "." in source:
        return str(import_string(source)(request))
    hops = [hop.strip() for hop in request.META.get(source, "").split(",") if hop.strip()]
    proxies = get_setting("CLIENT_IP_PROXIES")
    if len(hops) < proxies:
        # Not (all the way) through the trusted proxies: nothing in the header is
        # trustworthy, the connection's address is.
        return remote
    return hops[-proxies]
