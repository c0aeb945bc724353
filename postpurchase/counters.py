"""The atomic cache counter behind every limit: the public pages' attempt limits
(:mod:`postpurchase.public.ratelimit`) and the ESP send rate (``RATE_LIMIT``)."""

from __future__ import annotations

from django.core.cache import BaseCache


def increment(cache: BaseCache, key: str, timeout: float) -> int:
    """Add one to the counter ``key`` (created with ``timeout``) and return the new
    count. Concurrent callers each get a different count where ``incr`` is atomic."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:
        # It expired between add and incr. add is atomic: one caller starts it at 1,
        # the others count on from there.
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # a cache that keeps nothing (DummyCache)
            return 1
