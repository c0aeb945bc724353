"""Settings: one ``POSTPURCHASE`` dict in the host project's settings.

Read every value through :func:`get_setting` so defaults live in one place and a
missing or malformed value fails with a message that names the key.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.module_loading import import_string

from postpurchase.exceptions import PostpurchaseConfigurationError

UNSET: Any = object()

DEFAULTS: dict[str, Any] = {
    # Dotted path of the class that turns the shop's orders into snapshots.
    "ADAPTER": "postpurchase.adapters.DefaultAdapter",
    # Absolute base URL of the shop, used for links in emails (unsubscribe, view online).
    "SITE_URL": "http://127.0.0.1:8000",
    # "inline": after commit, a background thread of this process runs the new work (no
    # broker; the request never waits for the ESP); "celery": hand it to Celery workers;
    # "sync": run it in the committing thread (tests, scripts, simulations).
    "EXECUTION": "inline",
    # How many enrollments one claim takes.
    "BATCH_SIZE": 200,
    # How long a claimed batch is reserved before another worker may take it over.
    "LEASE_SECONDS": 300,
    # How often the periodic tick registered in django-celery-beat runs.
    "TICK_SECONDS": 10,
    # Upper bound of wake-up tasks one tick enqueues.
    "MAX_TASKS_PER_TICK": 50,
    # ESP retry policy: attempts in all and the first backoff (doubles each time).
    "MAX_SEND_ATTEMPTS": 6,
    "RETRY_BACKOFF_SECONDS": 60,
    "RETRY_BACKOFF_MAX_SECONDS": 6 * 3600,
    # From address; None falls back to settings.DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # Send the Message id as an idempotency key header where the ESP honours one.
    "IDEMPOTENCY_HEADER": "Idempotency-Key",
    # ESP calls in flight at once per worker process (threads, each with one reused
    # connection to the ESP).
    "SEND_CONCURRENCY": 32,
    # At most this many emails per second to the ESP, counted for all workers of the
    # shop through the Django cache RATE_LIMIT_CACHE (None: no limit).
    "RATE_LIMIT": None,
    "RATE_LIMIT_CACHE": "default",
    # ESP tags on each email, from "category", "flow", "step", "template". Many ESPs
    # (Postmark, Amazon SES, SparkPost, Mailjet) take one tag; flow, step and message
    # ids always travel in metadata.
    "TAGS": ["category"],
    # A message found "sending" after its worker died may or may not have left:
    # "resend" sends it again and marks it as a possible duplicate; "hold" marks its
    # outcome unknown and leaves resending to staff.
    "UNKNOWN_OUTCOME": "resend",
    # Attempts of a step that raises for one enrollment (adapter down, bad data, a bug
    # in a custom step) before that enrollment fails with the error.
    "MAX_STEP_ATTEMPTS": 6,
    # A flow may loop back to a step ("remind every week until they order"); an
    # enrollment reaches one step at most this often, then exits.
    "MAX_STEP_VISITS": 100,
    # Extra keyword arguments for mjml2html (fonts={} keeps Google Fonts out).
    "MJML_OPTIONS": {"fonts": {}},
    # Languages email content may be written in; the first is the fallback.
    "LANGUAGES": ["en", "ru", "uk"],
    # Branding shared by every email (see docs/settings.md).
    "BRAND": {},
    # Inbound signal handler errors: "log" keeps the shop's checkout going; "raise".
    "SIGNAL_ERRORS": "log",
    # Folder where every sent email is also written as .html and .txt (None: off).
    "MAIL_DIR": None,
    # The shop team's addresses for NotifyStaffStep when the step names none.
    "STAFF_EMAILS": [],
    # Where promoters are asked to review the shop publicly (nps-promoter-review):
    # [{"name": "Google", "url": "https://g.page/r/.../review"}, ...].
    "REVIEW_PLATFORMS": [],
    # Who a request to a public page comes from, for the attempt limits (see
    # docs/production.md): None is REMOTE_ADDR; a request.META key such as
    # "HTTP_X_FORWARDED_FOR" set by CLIENT_IP_PROXIES trusted proxies in front of Django;
    # or the dotted path of a function(request) -> str.
    "CLIENT_IP": None,
    "CLIENT_IP_PROXIES": 1,
    # The Django cache that counts attempts at public pages; share it between processes.
    "ATTEMPT_LIMIT_CACHE": "default",
    # Days a link in an email works, per kind of link (kinds left out keep these).
    "TOKEN_MAX_AGE_DAYS": {"unsubscribe": 730, "nps": 90},
    # postpurchase.contrib.oscar: which Oscar order statuses are which order event,
    # e.g. {"Shipped": "shipped", "Cancelled": "cancelled"}; statuses left out send none.
    "OSCAR_ORDER_STATUSES": {},
    # Custom events the shop sends with track(), offered as flow triggers, exit events
    # and delay events: {"event_name": "Label staff read"} (labels may be gettext_lazy).
    "CUSTOM_EVENTS": {},
    # How money names its currency: "symbol" ("4 290 ₽", "₽4,290" in English) or "code"
    # ("4 290 RUB", "RUB 4,290").
    "CURRENCY_DISPLAY": "symbol",
    # --- recommendations and replenishment (docs/recommendations.md, replenishment.md)
    # Days of orders that make a bestseller (whole UTC days, today included).
    "RECOMMENDATIONS_BESTSELLER_DAYS": 30,
    # Orders two products must share before one is suggested with the other.
    "RECOMMENDATIONS_MIN_PAIR_ORDERS": 2,
    # Orders one step of the refresh job folds in (one transaction).
    "RECOMMENDATIONS_BATCH_SIZE": 1000,
    # Days before the predicted date that replenishment_due fires.
    "REPLENISHMENT_LEAD_DAYS": 3,
    # Repurchases of a product (or category) seen before its learned cycle is used.
    "REPLENISHMENT_MIN_OBSERVATIONS": 5,
    # Days one unit lasts, per category, for products that do not say:
    # {"Contact lenses": 30}.
    "REPLENISHMENT_CATEGORY_DAYS": {},
}

#: What an Oscar order status may stand for (OSCAR_ORDER_STATUSES); each is the inbound
#: signal order_<name>.
OSCAR_STATUS_EVENTS = ("paid", "shipped", "delivered", "cancelled", "refunded")

#: The kinds of signed links in emails, each with its own salt and maximum age.
TOKEN_KINDS = ("unsubscribe", "nps")

BRAND_DEFAULTS: dict[str, Any] = {
    "name": "Our shop",
    "logo_url": "",
    "primary_color": "#2d6a4f",
    "text_color": "#1b1b1b",
    "background_color": "#f4f4f4",
    "support_email": "",
    "support_phone": "",
    "address": "",
    "social_links": [],  # [{"name": "Instagram", "url": "https://..."}]
}

_CHOICES = {
    "EXECUTION": ("inline", "celery", "sync"),
    "SIGNAL_ERRORS": ("log", "raise"),
    "UNKNOWN_OUTCOME": ("resend", "hold"),
    "CURRENCY_DISPLAY": ("symbol", "code"),
}
TAG_KINDS = ("category", "flow", "step", "template")
_POSITIVE_INTS = (
    "SEND_CONCURRENCY",
    "MAX_STEP_ATTEMPTS",
    "MAX_STEP_VISITS",
    "BATCH_SIZE",
    "LEASE_SECONDS",
    "TICK_SECONDS",
    "MAX_TASKS_PER_TICK",
    "MAX_SEND_ATTEMPTS",
    "RETRY_BACKOFF_SECONDS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "CLIENT_IP_PROXIES",
    "RECOMMENDATIONS_BESTSELLER_DAYS",
    "RECOMMENDATIONS_MIN_PAIR_ORDERS",
    "RECOMMENDATIONS_BATCH_SIZE",
    "REPLENISHMENT_MIN_OBSERVATIONS",
)
#: How request.META spells a header ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR").
_META_KEY = re.compile(r"[A-Z][A-Z0-9_]*")


def user_settings() -> dict[str, Any]:
    value = getattr(settings, "POSTPURCHASE", {}) or {}
    if not isinstance(value, dict):
        raise PostpurchaseConfigurationError("settings.POSTPURCHASE must be a dict.")
    return value


def get_setting(name: str, default: Any = UNSET) -> Any:
    """Return ``POSTPURCHASE[name]``, its documented default, or raise naming the key."""
    values = user_settings()
    if name in values:
        value = values[name]
    elif default is not UNSET:
        return default
    elif name in DEFAULTS:
        value = DEFAULTS[name]
    else:
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] is not a known setting and has no default.'
        )
    validate(name, value)
    return value


def validate(name: str, value: Any) -> None:
    if name in _CHOICES and value not in _CHOICES[name]:
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be one of {", ".join(_CHOICES[name])}; got {value!r}.'
        )
    if name in _POSITIVE_INTS and (not isinstance(value, int) or value <= 0):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a positive integer; got {value!r}.'
        )
    if name == "BRAND" and not isinstance(value, dict):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["BRAND"] must be a dict; got {value!r}.'
        )
    if name == "TAGS" and (
        not isinstance(value, list | tuple) or any(v not in TAG_KINDS for v in value)
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["TAGS"] must be a list drawn from {", ".join(TAG_KINDS)}; got {value!r}.'
        )
    if (
        name == "RATE_LIMIT"
        and value is not None
        and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0)
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["RATE_LIMIT"] must be None or a positive number of emails per '
            f"second; got {value!r}."
        )
    if name == "STAFF_EMAILS":
        _validate_addresses(name, value)
    if name == "REVIEW_PLATFORMS":
        _validate_platforms(value)
    if name == "CLIENT_IP_PROXIES" and isinstance(value, bool):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["CLIENT_IP_PROXIES"] must be a positive integer; got {value!r}.'
        )
    if name == "CLIENT_IP":
        _validate_client_ip(value)
    if name == "TOKEN_MAX_AGE_DAYS":
        _validate_token_ages(value)
    if name == "ATTEMPT_LIMIT_CACHE" and (not isinstance(value, str) or not value):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["ATTEMPT_LIMIT_CACHE"] must be a cache alias; got {value!r}.'
        )
    if name == "OSCAR_ORDER_STATUSES":
        _validate_oscar_statuses(value)
    if name == "CUSTOM_EVENTS":
        _validate_custom_events(value)
    if name == "REPLENISHMENT_LEAD_DAYS" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["REPLENISHMENT_LEAD_DAYS"] must be a whole number of days, 0 or '
            f"more; got {value!r}."
        )
    if name == "REPLENISHMENT_CATEGORY_DAYS":
        _validate_category_days(value)
    if name == "LANGUAGES" and (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["LANGUAGES"] must be a non-empty list of language codes; got {value!r}.'
        )


def _validate_addresses(name: str, value: Any) -> None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a list of email addresses; got {value!r}.'
        )
    for address in value:
        try:
            validate_email(address)
        except ValidationError:
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["{name}"] contains {address!r}, which is not an email address.'
            ) from None


def _validate_client_ip(value: Any) -> None:
    if value is None or callable(value):
        return
    if isinstance(value, str) and _META_KEY.fullmatch(value):
        return  # a request.META key
    if isinstance(value, str) and "." in value:
        try:
            found = import_string(value)
        except ImportError as exc:
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["CLIENT_IP"] names {value!r}, which cannot be imported: {exc}'
            ) from None
        if callable(found):
            return
    raise PostpurchaseConfigurationError(
        'POSTPURCHASE["CLIENT_IP"] must be None (REMOTE_ADDR), a request.META key such as '
        '"HTTP_X_FORWARDED_FOR", or the dotted path of a function(request) -> str; '
        f"got {value!r}."
    )


def _validate_token_ages(value: Any) -> None:
    ok = isinstance(value, dict) and all(
        kind in TOKEN_KINDS and isinstance(days, int) and not isinstance(days, bool) and days > 0
        for kind, days in value.items()
    )
    if not ok:
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["TOKEN_MAX_AGE_DAYS"] must be a dict of positive numbers of days '
            f"by kind of link ({', '.join(TOKEN_KINDS)}); got {value!r}."
        )


def _validate_oscar_statuses(value: Any) -> None:
    if not isinstance(value, dict):
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["OSCAR_ORDER_STATUSES"] must be a dict of Oscar order status -> '
            f"one of {', '.join(OSCAR_STATUS_EVENTS)}; got {value!r}."
        )
    for status, event in value.items():
        if not isinstance(status, str) or event not in OSCAR_STATUS_EVENTS:
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["OSCAR_ORDER_STATUSES"][{status!r}] must be one of '
                f"{', '.join(OSCAR_STATUS_EVENTS)}; got {event!r}."
            )


#: What track() accepts as an event name, without spaces (so it reads as one word).
_EVENT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _validate_custom_events(value: Any) -> None:
    if not isinstance(value, dict):
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["CUSTOM_EVENTS"] must be a dict of event name -> label, e.g. '
            f'{{"product_viewed": "Product viewed"}}; got {value!r}.'
        )
    for name, label in value.items():
        if not isinstance(name, str) or not _EVENT_NAME.fullmatch(name):
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["CUSTOM_EVENTS"] has the key {name!r}: an event name must be '
                "1-100 letters, digits or _ . : - (no spaces)."
            )
        if not isinstance(label, str | Promise) or not str(label).strip():
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["CUSTOM_EVENTS"][{name!r}] must be a non-empty label; got {label!r}.'
            )


def _validate_category_days(value: Any) -> None:
    ok = isinstance(value, dict) and all(
        isinstance(category, str)
        and category
        and isinstance(days, int | float)
        and not isinstance(days, bool)
        and 0 < days < 100_000
        for category, days in value.items()
    )
    if not ok:
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["REPLENISHMENT_CATEGORY_DAYS"] must be a dict of category -> days '
            f'one unit lasts (a positive number), e.g. {{"Contact lenses": 30}}; got {value!r}.'
        )


def _validate_platforms(value: Any) -> None:
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, dict)
        and isinstance(v.get("name"), str)
        and v["name"].strip()
        and isinstance(v.get("url"), str)
        and v["url"].startswith(("https://", "http://"))
        for v in value
    )
    if not ok:
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["REVIEW_PLATFORMS"] must be a list of {"name": ..., "url": '
            f'"https://..."}} dicts; got {value!r}.'
        )


def brand() -> dict[str, Any]:
    """The branding dict with defaults filled in."""
    return {**BRAND_DEFAULTS, "site_url": site_url(), **get_setting("BRAND")}


def site_url() -> str:
    return str(get_setting("SITE_URL")).rstrip("/")


def token_max_age_days(kind: str) -> int:
    """Days a link of ``kind`` (one of TOKEN_KINDS) works after it was made."""
    return {**DEFAULTS["TOKEN_MAX_AGE_DAYS"], **get_setting("TOKEN_MAX_AGE_DAYS")}[kind]


def languages() -> list[str]:
    return list(get_setting("LANGUAGES"))
