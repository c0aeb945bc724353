"""The shared attempt limiter of the public endpoints: atomic counting, the client's
address from POSTPURCHASE["CLIENT_IP"], and the system check on its cache."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.test import RequestFactory

from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.public import ratelimit

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture(autouse=True)
def _clear_attempt_counts():
    cache.clear()
    yield
    cache.clear()


def request(remote_addr="192.0.2.10", **meta):
    return RequestFactory().post("/", REMOTE_ADDR=remote_addr, **meta)


def test_concurrent_attempts_never_exceed_the_limit():
    limit = ratelimit.Limit("test", attempts=10, window=60)
    threads = 40
    start = threading.Barrier(threads)
    allowed = []

    def attempt():
        start.wait()
        allowed.append(ratelimit.take(limit, "203.0.113.7"))

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert allowed.count(True) == 10
    assert allowed.count(False) == 30


def test_a_given_back_attempt_does_not_count():
    limit = ratelimit.Limit("test", attempts=2, window=60)
    for _ in range(5):
        assert ratelimit.take(limit, "a")
        ratelimit.give_back(limit, "a")
    assert ratelimit.take(limit, "a") and ratelimit.take(limit, "a")
    assert not ratelimit.take(limit, "a")
    # Counted per key and per scope.
    assert ratelimit.take(limit, "b")
    assert ratelimit.take(ratelimit.Limit("other", attempts=2, window=60), "a")


def test_the_client_is_remote_addr_by_default(settings):
    assert ratelimit.client_address(request(HTTP_X_FORWARDED_FOR="10.9.9.9")) == "192.0.2.10"


def test_a_proxy_header_names_the_client(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CLIENT_IP": "HTTP_X_FORWARDED_FOR"}
    # One trusted proxy: the last entry is what it saw; what the client wrote is ignored.
    seen = request(HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4")
    assert ratelimit.client_address(seen) == "198.51.100.4"
    assert ratelimit.client_address(request(HTTP_X_FORWARDED_FOR="198.51.100.4")) == (
        "198.51.100.4"
    )
    # Not through the proxy at all: the connection's address.
    assert ratelimit.client_address(request()) == "192.0.2.10"

    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CLIENT_IP_PROXIES": 2}
    two = request(HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4, 10.0.0.2")
    assert ratelimit.client_address(two) == "198.51.100.4"
    # Fewer entries than trusted proxies: none of them can be trusted.
    assert ratelimit.client_address(request(HTTP_X_FORWARDED_FOR="6.6.6.6")) == "192.0.2.10"


def shop_client_ip(request):
    return "shop:" + request.META.get("HTTP_X_SHOP_CLIENT", "?")


def test_a_callable_names_the_client(settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "CLIENT_IP": "tests.core.test_ratelimit.shop_client_ip",
    }
    assert ratelimit.client_address(request(HTTP_X_SHOP_CLIENT="7")) == "shop:7"


@pytest.mark.parametrize(
    "value", ["X-Forwarded-For", "", 5, "tests.core.test_ratelimit.no_such_function"]
)
def test_a_bad_client_ip_setting_names_the_key(settings, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CLIENT_IP": value}
    with pytest.raises(PostpurchaseConfigurationError, match="CLIENT_IP"):
        ratelimit.client_address(request())
    assert "postpurchase.E003" in {e.id for e in run_checks()}


@pytest.mark.parametrize("value", [0, -1, "1", True])
def test_a_bad_proxy_count_names_the_key(settings, value):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "CLIENT_IP": "HTTP_X_FORWARDED_FOR",
        "CLIENT_IP_PROXIES": value,
    }
    with pytest.raises(PostpurchaseConfigurationError, match="CLIENT_IP_PROXIES"):
        ratelimit.client_address(request())


def ids(settings):
    return {e.id for e in run_checks(include_deployment_checks=True)}


def test_a_per_process_cache_is_a_warning_in_production(settings):
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.DEBUG = False
    assert "postpurchase.W003" in ids(settings)
    settings.DEBUG = True
    assert "postpurchase.W003" not in ids(settings)


def test_a_shared_cache_is_fine(settings):
    settings.DEBUG = False
    settings.CACHES = {
        "default": {"BACKEND": LOCMEM},
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379",
        },
    }
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTEMPT_LIMIT_CACHE": "shared"}
    assert "postpurchase.W003" not in ids(settings)


def test_an_undefined_limiter_cache_is_an_error(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "ATTEMPT_LIMIT_CACHE": "nope"}
    assert "postpurchase.E010" in ids(settings)
