"""System checks for misconfiguration (ids postpurchase.E0xx / W0xx, never reused)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from postpurchase.adapters import get_adapter
from postpurchase.conf import DEFAULTS, brand, get_setting, user_settings
from postpurchase.contrib.celery import BEAT_INSTALLED, CELERY_INSTALLED, celery_mode
from postpurchase.delivery import backend_problems, esp_name
from postpurchase.delivery.compose import STREAM_KEYS
from postpurchase.exceptions import PostpurchaseConfigurationError


@register(Tags.compatibility)
def check_settings(app_configs=None, **kwargs):
    errors = []
    try:
        values = user_settings()
    except PostpurchaseConfigurationError as exc:
        return [Error(str(exc), id="postpurchase.E001")]
    for key in values:
        if key not in DEFAULTS:
            errors.append(
                Error(
                    f'POSTPURCHASE["{key}"] is not a setting of django-postpurchase.',
                    hint="See docs/settings.md for the list; check the spelling.",
                    id="postpurchase.E002",
                )
            )
    for key in DEFAULTS:
        try:
            get_setting(key)
        except PostpurchaseConfigurationError as exc:
            errors.append(Error(str(exc), id="postpurchase.E003"))
    try:
        get_adapter()
    except PostpurchaseConfigurationError as exc:
        errors.append(Error(str(exc), id="postpurchase.E004"))
    if not apps.is_installed("polymorphic"):
        errors.append(
            Error(
                '"polymorphic" must be in INSTALLED_APPS for postpurchase to work.',
                id="postpurchase.E005",
            )
        )
    url = str(values.get("SITE_URL", DEFAULTS["SITE_URL"]))
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors.append(
            Error(
                f'POSTPURCHASE["SITE_URL"] must be an absolute http(s) URL; got {url!r}.',
                id="postpurchase.E006",
            )
        )
    elif "SITE_URL" not in values and not settings.DEBUG:
        errors.append(
            Warning(
                'POSTPURCHASE["SITE_URL"] is not set: links in emails point to 127.0.0.1.',
                id="postpurchase.W001",
            )
        )
    return errors


CELERY_EXTRA_HINT = 'pip install "django-postpurchase[celery]"'


@register(Tags.compatibility)
def check_celery(app_configs=None, **kwargs):
    """Celery mode needs the ``celery`` extra; inline and sync modes need none of it.
    (The broker check is in postpurchase.contrib.celery.checks: it needs Celery.)"""
    if not celery_mode():
        return []
    errors = []
    if not CELERY_INSTALLED:
        errors.append(
            Error(
                'POSTPURCHASE["EXECUTION"] is "celery" but the celery package is not installed.',
                hint=CELERY_EXTRA_HINT,
                id="postpurchase.E011",
            )
        )
    if not BEAT_INSTALLED:
        errors.append(
            Error(
                'POSTPURCHASE["EXECUTION"] is "celery" but django-celery-beat '
                "(django_celery_beat) is not installed.",
                hint=CELERY_EXTRA_HINT,
                id="postpurchase.E012",
            )
        )
    elif not apps.is_installed("django_celery_beat"):
        errors.append(
            Error(
                '"django_celery_beat" must be in INSTALLED_APPS when POSTPURCHASE["EXECUTION"] '
                'is "celery": migrate registers the periodic tick there.',
                id="postpurchase.E005",
            )
        )
    return errors


@register(Tags.urls)
def check_urls(app_configs=None, **kwargs):
    try:
        reverse("postpurchase:unsubscribe", args=["x"])
    except NoReverseMatch:
        return [
            Error(
                "postpurchase.urls is not included in the project's URLconf: unsubscribe "
                "links in marketing emails cannot be built.",
                hint='Add path("postpurchase/", include("postpurchase.urls")) to your urls.',
                id="postpurchase.E007",
            )
        ]
    return []


@register(Tags.compatibility)
def check_email_backend(app_configs=None, **kwargs):
    """The configured ESP must take the emails we send (e.g. Postmark: one tag)."""
    try:
        get_setting("TAGS")
    except PostpurchaseConfigurationError:
        return []  # reported by check_settings
    return [
        Error(
            problem,
            hint='Set POSTPURCHASE["TAGS"] to what your ESP accepts (["category"] or []); '
            "see docs/production.md.",
            id="postpurchase.E008",
        )
        for problem in backend_problems()
    ]


#: Caches whose counters live in one process (or nowhere): every process would count
#: alone (each worker sends RATE_LIMIT, each web process allows every attempt).
PER_PROCESS_CACHES = ("locmem.LocMemCache", "dummy.DummyCache")
#: Shared caches whose incr is a read and a write, so concurrent attempts may be lost.
NON_ATOMIC_CACHES = ("db.DatabaseCache", "filebased.FileBasedCache")


def _counter_backend(alias: str) -> str:
    """The backend of the cache a counter (postpurchase.counters) uses; "" if none."""
    return settings.CACHES.get(alias, {}).get("BACKEND", "")


def _undefined_cache(setting: str, alias: str, check_id: str) -> Error:
    return Error(
        f'POSTPURCHASE["{setting}"] names the cache {alias!r}, which settings.CACHES '
        "does not define.",
        id=check_id,
    )


@register(Tags.caches)
def check_rate_limit_cache(app_configs=None, **kwargs):
    """A shop-wide rate limit needs a cache all workers share."""
    try:
        values = user_settings()
    except PostpurchaseConfigurationError:
        return []  # reported by check_settings
    if not values.get("RATE_LIMIT"):
        return []
    alias = values.get("RATE_LIMIT_CACHE", DEFAULTS["RATE_LIMIT_CACHE"])
    backend = _counter_backend(alias)
    if not backend:
        return [_undefined_cache("RATE_LIMIT_CACHE", alias, "postpurchase.E009")]
    if backend.endswith(PER_PROCESS_CACHES):
        return [
            Warning(
                f"RATE_LIMIT is counted in the cache {alias!r} ({backend}), which each "
                "process keeps for itself: every worker may send RATE_LIMIT emails per "
                "second.",
                hint="Use a shared cache (Redis, Memcached, the database cache).",
                id="postpurchase.W002",
            )
        ]
    return []


@register(Tags.caches)
def check_attempt_limit_cache(app_configs=None, **kwargs):
    """The attempt limits of the public pages (NPS survey, coupon codes) need a cache
    all web processes share, with an atomic incr."""
    try:
        alias = get_setting("ATTEMPT_LIMIT_CACHE")
    except PostpurchaseConfigurationError:
        return []  # reported by check_settings
    backend = _counter_backend(alias)
    if not backend:
        return [_undefined_cache("ATTEMPT_LIMIT_CACHE", alias, "postpurchase.E010")]
    hint = (
        'Point POSTPURCHASE["ATTEMPT_LIMIT_CACHE"] at a Redis or Memcached cache '
        "(see docs/production.md)."
    )
    if backend.endswith(PER_PROCESS_CACHES) and not settings.DEBUG:
        return [
            Warning(
                f"Attempts at the public pages (NPS survey, coupon codes) are counted in "
                f"the cache {alias!r} ({backend}), which each process keeps for itself: "
                "every web process allows the full number of attempts.",
                hint=hint,
                id="postpurchase.W003",
            )
        ]
    if backend.endswith(NON_ATOMIC_CACHES) and not settings.DEBUG:
        return [
            Warning(
                f"Attempts at the public pages are counted in the cache {alias!r} "
                f"({backend}), whose incr is not atomic: concurrent attempts may be "
                "counted as one.",
                hint=hint,
                id="postpurchase.W003",
            )
        ]
    return []


@register(Tags.compatibility)
def check_deliverability(app_configs=None, **kwargs):
    """What mailbox providers and the law ask of marketing email: a postal address in
    every one (CAN-SPAM), one-click unsubscribe over HTTPS (Gmail, Yahoo, Microsoft),
    and message streams only where the ESP has them."""
    try:
        user_settings()
        address = str(brand().get("address") or "").strip()
        url = str(get_setting("SITE_URL"))
        streams = get_setting("MESSAGE_STREAMS")
    except PostpurchaseConfigurationError:
        return []  # reported by check_settings
    problems = []
    if not address:
        problems.append(
            Warning(
                'POSTPURCHASE["BRAND"]["address"] is empty: marketing emails carry no postal '
                "address, which CAN-SPAM requires in every commercial email.",
                hint='Set POSTPURCHASE["BRAND"]["address"] to the shop\'s postal address '
                "(see docs/deliverability.md).",
                id="postpurchase.W005",
            )
        )
    if not settings.DEBUG and urlparse(url).scheme != "https":
        problems.append(
            Warning(
                f'POSTPURCHASE["SITE_URL"] is {url!r}, not https: mail clients do not offer '
                "one-click unsubscribe (RFC 8058) over plain HTTP, and Gmail, Yahoo and "
                "Microsoft reject bulk mail without it.",
                hint='Serve the shop over HTTPS and set POSTPURCHASE["SITE_URL"] to its '
                "https:// address.",
                id="postpurchase.W006",
            )
        )
    if streams and esp_name() not in STREAM_KEYS:
        problems.append(
            Warning(
                f'POSTPURCHASE["MESSAGE_STREAMS"] is set, but the ESP {esp_name()!r} has no '
                "message streams in Anymail: every email goes out on its one stream.",
                hint=f"Streams work with: {', '.join(sorted(STREAM_KEYS))}. Use a separate "
                'From address (POSTPURCHASE["FROM_EMAILS"]) or remove MESSAGE_STREAMS.',
                id="postpurchase.W007",
            )
        )
    return problems
