"""Settings: one ``POSTPURCHASE`` dict in the host project's settings.

Read every value through :func:`get_setting` so defaults live in one place and a
missing or malformed value fails with a message that names the key.
"""

from __future__ import annotations

import ipaddress
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
    # Where NPS respondents who opt in are asked for a public review (nps-promoter-review):
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
    "TOKEN_MAX_AGE_DAYS": {"unsubscribe": 730, "nps": 90, "track": 365, "preferences": 730},
    # postpurchase.contrib.oscar: which Oscar order statuses are which order event,
    # e.g. {"Shipped": "shipped", "Cancelled": "cancelled"}; statuses left out send none.
    "OSCAR_ORDER_STATUSES": {},
    # Custom events the shop sends with track(), offered as flow triggers, exit events
    # and delay events: {"event_name": "Label staff read"} (labels may be gettext_lazy).
    "CUSTOM_EVENTS": {},
    # How money names its currency: "symbol" ("4 290 ₽", "₽4,290" in English) or "code"
    # ("4 290 RUB", "RUB 4,290").
    "CURRENCY_DISPLAY": "symbol",
    # --- tracking: human or machine (postpurchase.tracking.classify), first party ---
    # Dotted paths of the shop's own rules, function(hit) -> reason code or None, run
    # after the built-in ones on every open and click (see docs/tracking.md).
    "MACHINE_CLASSIFIERS": [],
    # A click this many seconds or less from the email's sending or delivery is a
    # security scanner's (people take longer to open an email and click).
    "MACHINE_CLICK_SECONDS": 10,
    # Clicks on different links of one email this many seconds apart or closer are a
    # scanner following every link.
    "MACHINE_BURST_SECONDS": 1,
    # Extra address ranges ("192.0.2.0/24") whose opens and clicks are a machine's
    # (a scanner's or proxy's own range, Apple's Private Relay egress list).
    "MACHINE_NETWORKS": [],
    # Track opens and clicks ourselves: marketing emails get their links through a
    # signed redirect, an open pixel and a hidden honeypot link (off: leave it to the ESP).
    "FIRST_PARTY_TRACKING": False,
    # With FIRST_PARTY_TRACKING, track transactional emails too.
    "FIRST_PARTY_TRACK_TRANSACTIONAL": False,
    # --- Pacing and deliverability (docs/deliverability.md) ---------------------------
    # At most "emails" marketing emails per contact in any "hours"-long window, all flows
    # together, e.g. {"emails": 1, "hours": 24}; one over it is deferred, not dropped.
    # None: no shop-wide cap (a contact's weekly/monthly choice still holds).
    "FREQUENCY_CAP": None,
    # No marketing email between these local hours of the contact (its time zone), e.g.
    # {"start": 21, "end": 8}: deferred to the end of them. None: any hour.
    "QUIET_HOURS": None,
    # Send-time optimisation for email steps that opt in: the contact's usual hour of
    # opening or clicking (at least MIN_OBSERVATIONS emails, else the shop's best hour),
    # waiting at most MAX_DELAY_HOURS for it.
    "SEND_TIME_OPTIMISATION": False,
    "SEND_TIME_MIN_OBSERVATIONS": 3,
    "SEND_TIME_MAX_DELAY_HOURS": 24,
    # From address per category ({"marketing": "News <news@shop.example>"}); a category
    # left out uses FROM_EMAIL.
    "FROM_EMAILS": {},
    # ESP message stream per category where the ESP has them (Postmark:
    # {"marketing": "broadcast", "transactional": "outbound"}).
    "MESSAGE_STREAMS": {},
    # --- health monitor and retention (docs/monitoring.md) -------------------------
    # Thresholds of the health monitor's rules; keys left out keep these defaults.
    "HEALTH": {
        # Orders and enrollments are compared over the last WINDOW_MINUTES.
        "WINDOW_MINUTES": 60,
        # An enrollment younger than this is not yet expected to have its first email.
        "GRACE_MINUTES": 15,
        # Orders in the window before "orders but no enrollments" can fire.
        "MIN_ORDERS": 5,
        # Enrollments (of flows that open with an email) before "no emails" can fire.
        "MIN_ENROLLMENTS": 5,
        # Share of the window's emails failing (failed, retrying, outcome unknown),
        # once at least MIN_FAILURE_VOLUME emails have an outcome.
        "FAILURE_RATE": 0.1,
        "MIN_FAILURE_VOLUME": 20,
        # Share of the window's sent emails that bounced, from MIN_BOUNCE_VOLUME sent.
        "BOUNCE_RATE": 0.05,
        "MIN_BOUNCE_VOLUME": 50,
        # A live flow's enrollment due longer ago than this: the scheduler is stalled.
        "BACKLOG_MINUTES": 30,
        # Spam complaints among the emails sent in the last 24 hours, from
        # MIN_COMPLAINT_VOLUME emails; PAUSE_ON_COMPLAINTS pauses the marketing flows.
        "COMPLAINT_RATE": 0.003,
        "MIN_COMPLAINT_VOLUME": 200,
        "PAUSE_ON_COMPLAINTS": True,
    },
    # Days MessageEvents and Events are kept (None: forever), and how much one run of
    # the purge job deletes: at most MAX_BATCHES batches of BATCH_SIZE rows per table.
    "RETENTION": {
        "MESSAGE_EVENTS_DAYS": 180,
        "EVENTS_DAYS": 730,
        # Days after which a message's address and subject (which names the customer)
        # are blanked; the row, its status and roll-ups stay (reports, the double-send
        # guard). None: kept.
        "MESSAGE_ADDRESSES_DAYS": None,
        "BATCH_SIZE": 1000,
        "MAX_BATCHES": 10,
    },
    # --- consent (docs/consent.md) ---
    # The legal basis of marketing email: "soft_opt_in" sends it to contacts who granted
    # consent and to existing customers until they opt out (EU/UK PECR reg. 22);
    # "consent" only to contacts who granted it explicitly (Russia, 38-FZ art. 18).
    "MARKETING_LEGAL_BASIS": "soft_opt_in",
    # --- Lifecycle: date triggers and segments (docs/lifecycle.md, personalization.md) ---
    # A date trigger's moment (a birthday, N days without an order) stays due this many
    # days: a scan that did not run catches up; older moments are left alone.
    "LIFECYCLE_CATCH_UP_DAYS": 7,
    # Contacts the date-trigger scan reads per query, and occurrences it records per
    # round.
    "LIFECYCLE_BATCH_SIZE": 1000,
    # Customer checks (segments) read at most this many of a customer's latest order
    # events.
    "SEGMENT_MAX_ORDERS": 500,
    # --- Conversions and revenue (postpurchase.analytics) ---
    # An order placed (or a flow's goal event) within this many days after a human click
    # on a flow's email is a conversion of that email (0: clicks attribute nothing).
    "ATTRIBUTION_CLICK_DAYS": 5,
    # The same after a human open; 0 (the default) is off: opens attribute nothing.
    "ATTRIBUTION_OPEN_DAYS": 0,
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

#: HEALTH keys that are shares (0 < x < 1), switches, the rest positive integers.
HEALTH_RATES = ("FAILURE_RATE", "BOUNCE_RATE", "COMPLAINT_RATE")
HEALTH_SWITCHES = ("PAUSE_ON_COMPLAINTS",)
#: RETENTION keys that may be None (keep forever).
RETENTION_DAYS = ("MESSAGE_EVENTS_DAYS", "EVENTS_DAYS", "MESSAGE_ADDRESSES_DAYS")

#: The kinds of signed links in emails, each with its own salt and maximum age.
TOKEN_KINDS = ("unsubscribe", "nps", "track", "preferences")

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
    "MARKETING_LEGAL_BASIS": ("soft_opt_in", "consent"),
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
    "MACHINE_CLICK_SECONDS",
    "MACHINE_BURST_SECONDS",
    "SEND_TIME_MIN_OBSERVATIONS",
    "SEND_TIME_MAX_DELAY_HOURS",
    "LIFECYCLE_CATCH_UP_DAYS",
    "LIFECYCLE_BATCH_SIZE",
    "SEGMENT_MAX_ORDERS",
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
    if name in ("ATTRIBUTION_CLICK_DAYS", "ATTRIBUTION_OPEN_DAYS") and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 365
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a number of days from 0 (off) to 365; got {value!r}.'
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
    if name == "MACHINE_CLASSIFIERS":
        _validate_classifiers(value)
    if name == "MACHINE_NETWORKS":
        _validate_networks(value)
    if name in ("FIRST_PARTY_TRACKING", "FIRST_PARTY_TRACK_TRANSACTIONAL") and not isinstance(
        value, bool
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be True or False; got {value!r}.'
        )
    if name in _PACING_VALIDATORS:
        _PACING_VALIDATORS[name](name, value)
    if name == "HEALTH":
        _validate_health(value)
    if name == "RETENTION":
        _validate_retention(value)
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


#: The categories of email (EmailStep.Category), keys of FROM_EMAILS and MESSAGE_STREAMS.
CATEGORIES = ("transactional", "marketing")


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _validate_cap(name: str, value: Any) -> None:
    if value is None:
        return
    if not (
        isinstance(value, dict)
        and set(value) == {"emails", "hours"}
        and _is_int(value["emails"], 1, 10_000)
        and _is_int(value["hours"], 1, 24 * 366)
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be None or {{"emails": N, "hours": H}} with '
            f"positive integers (at most N marketing emails in any H hours); got {value!r}."
        )


def _validate_quiet_hours(name: str, value: Any) -> None:
    if value is None:
        return
    if not (
        isinstance(value, dict)
        and set(value) == {"start", "end"}
        and _is_int(value["start"], 0, 23)
        and _is_int(value["end"], 0, 23)
        and value["start"] != value["end"]
    ):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be None or {{"start": 21, "end": 8}}: two '
            f"different local hours from 0 to 23; got {value!r}."
        )


def _validate_by_category(name: str, value: Any) -> None:
    ok = isinstance(value, dict) and all(
        key in CATEGORIES and isinstance(v, str) and v.strip() for key, v in value.items()
    )
    if not ok:
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a dict of {" / ".join(CATEGORIES)} -> a '
            f"non-empty string; got {value!r}."
        )


def _validate_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be True or False; got {value!r}.'
        )


def _validate_max_delay(name: str, value: Any) -> None:
    if not _is_int(value, 1, 24):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a number of hours from 1 to 24; got {value!r}.'
        )


_PACING_VALIDATORS = {
    "FREQUENCY_CAP": _validate_cap,
    "QUIET_HOURS": _validate_quiet_hours,
    "SEND_TIME_OPTIMISATION": _validate_flag,
    "SEND_TIME_MAX_DELAY_HOURS": _validate_max_delay,
    "FROM_EMAILS": _validate_by_category,
    "MESSAGE_STREAMS": _validate_by_category,
}


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


def _validate_classifiers(value: Any) -> None:
    if not isinstance(value, list | tuple):
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["MACHINE_CLASSIFIERS"] must be a list of dotted paths of '
            f"functions(hit) -> reason or None; got {value!r}."
        )
    for path in value:
        try:
            found = import_string(path) if isinstance(path, str) else path
        except ImportError as exc:
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["MACHINE_CLASSIFIERS"] names {path!r}, which cannot be '
                f"imported: {exc}"
            ) from None
        if not callable(found):
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["MACHINE_CLASSIFIERS"] contains {path!r}, which is not a function.'
            )


def _validate_networks(value: Any) -> None:
    ok = isinstance(value, list | tuple)
    for network in value if ok else ():
        try:
            ipaddress.ip_network(network, strict=False)
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise PostpurchaseConfigurationError(
            'POSTPURCHASE["MACHINE_NETWORKS"] must be a list of address ranges such as '
            f'"192.0.2.0/24"; got {value!r}.'
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


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _validate_known_keys(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] must be a dict; got {value!r}.'
        )
    unknown = set(value) - set(DEFAULTS[name])
    if unknown:
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["{name}"] has unknown keys {sorted(unknown)}; known: '
            f"{', '.join(DEFAULTS[name])}."
        )


def _validate_health(value: Any) -> None:
    _validate_known_keys("HEALTH", value)
    for key, item in value.items():
        where = f'POSTPURCHASE["HEALTH"]["{key}"]'
        if key in HEALTH_RATES:
            if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
                raise PostpurchaseConfigurationError(
                    f"{where} must be a share between 0 and 1 (0.003 is 0.3 %); got {item!r}."
                )
        elif key in HEALTH_SWITCHES:
            if not isinstance(item, bool):
                raise PostpurchaseConfigurationError(
                    f"{where} must be True or False; got {item!r}."
                )
        elif not _positive_int(item):
            raise PostpurchaseConfigurationError(
                f"{where} must be a positive integer; got {item!r}."
            )


def _validate_retention(value: Any) -> None:
    _validate_known_keys("RETENTION", value)
    for key, item in value.items():
        if key in RETENTION_DAYS and item is None:
            continue
        if not _positive_int(item):
            allowed = (
                "a positive number of days or None"
                if key in RETENTION_DAYS
                else "a positive integer"
            )
            raise PostpurchaseConfigurationError(
                f'POSTPURCHASE["RETENTION"]["{key}"] must be {allowed}; got {item!r}.'
            )


def health_setting(key: str) -> Any:
    """One HEALTH threshold (the documented default when the shop leaves it out)."""
    return {**DEFAULTS["HEALTH"], **get_setting("HEALTH")}[key]


def retention_setting(key: str) -> Any:
    """One RETENTION value (the documented default when the shop leaves it out)."""
    return {**DEFAULTS["RETENTION"], **get_setting("RETENTION")}[key]


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
