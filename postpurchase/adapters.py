"""The adapter: how the app reads a shop's orders and reviews without importing them.

``POSTPURCHASE["ADAPTER"]`` names a subclass of :class:`BaseAdapter`. The app calls it
when an inbound signal arrives and stores what it returns (a plain, JSON-serializable
snapshot) on the event and enrollment, so emails render the order as it was even if the
shop later edits or deletes it.

Snapshot of an order (keys the built-in templates use; add any others you like)::

    {
      "ref": "shop.order:42",            # filled in from order_ref() if missing
      "number": "42",                    # shown to the customer
      "email": "anna@example.com",       # required
      "first_name": "Anna", "last_name": "Petrova",
      "locale": "ru", "timezone": "Europe/Moscow",
      "birthday": "1990-02-28",          # optional: the birthday date trigger
      "attributes": {"age_band": "25-34", "gender": "f", "city": "Kazan",
                     "country": "RU"},   # optional: the customer, for segments
      "placed_at": "2026-11-23T10:00:00+00:00",
      "currency": "RUB",
      "items": [{"sku": "BP-1", "name": "Backpack", "category": "Bags", "qty": 1,
                 "price": "4990.00", "total": "4990.00", "image_url": "https://...",
                 "url": "https://...", "review_url": "https://...",
                 "ready_after": "2027-05-01",     # optional: judged from (D2)
                 "replenish_days": 30}],          # optional: days one unit lasts
      "subtotal": "4990.00", "shipping_cost": "0.00", "discount": "0.00",
      "total": "4990.00",
      "payment_method": "Card", "shipping_method": "Courier",
      "shipping_address": "...", "delivery_estimate": "2026-11-26",
      "tracking_url": "", "order_url": "https://..."
    }
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from postpurchase import clock
from postpurchase.conf import get_setting, site_url
from postpurchase.exceptions import AdapterError, PostpurchaseConfigurationError
from postpurchase.models import normalize_email
from postpurchase.recommendations import for_order

logger = logging.getLogger("postpurchase.adapters")

#: Contact fields an order or event may fill in, and how long Contact holds them.
CONTACT_FIELDS = {"first_name": 150, "last_name": 150, "locale": 16, "timezone": 64}
_LANGUAGE = re.compile(r"[a-z]{2,8}")
_SUBTAG = re.compile(r"[a-z0-9]{2,8}")

# The types docs/integrating.md ("The order snapshot") gives the snapshot's keys. A
# value of another type is converted when its meaning is clear (42 -> "42" for a
# number, 49.9 -> "49.9" for a total, "2" -> 2 for a quantity, "/p/1/" -> SITE_URL +
# "/p/1/" for a link) and refused with an AdapterError naming the key otherwise. None
# and "" stand for "not given" and are kept.
TEXT, AMOUNT, COUNT, DATE, DATETIME, URL = "text", "amount", "count", "date", "datetime", "url"
ORDER_TYPES = {
    "ref": TEXT,
    "number": TEXT,
    "first_name": TEXT,
    "last_name": TEXT,
    "locale": TEXT,
    "timezone": TEXT,
    "birthday": DATE,
    "placed_at": DATETIME,
    "currency": TEXT,
    "subtotal": AMOUNT,
    "shipping_cost": AMOUNT,
    "discount": AMOUNT,
    "total": AMOUNT,
    "payment_method": TEXT,
    "shipping_method": TEXT,
    "shipping_address": TEXT,
    "delivery_estimate": DATE,
    "tracking_url": URL,
    "order_url": URL,
}
ITEM_TYPES = {
    "sku": TEXT,
    "name": TEXT,
    "category": TEXT,
    "qty": COUNT,
    "price": AMOUNT,
    "total": AMOUNT,
    "image_url": URL,
    "url": URL,
    "review_url": URL,
    "variant": TEXT,
    "ready_after": DATE,
    "replenish_days": AMOUNT,
}


class BaseAdapter:
    """Subclass and override; every method has a working default where one is possible."""

    def order_ref(self, order: Any) -> str:
        """A stable reference to the order: exits and re-entry rules match on it."""
        return f"{order._meta.label_lower}:{order.pk}"

    def order_snapshot(self, order: Any) -> dict[str, Any]:
        """Return the order as a JSON-serializable dict (see the module docstring)."""
        raise NotImplementedError(
            f"{type(self).__name__}.order_snapshot() must return the order as a dict"
        )

    def order_admin_url(self, order_ref: str) -> str | None:
        """The shop's admin page for the order ``order_ref`` names, linked from our admin
        (events, enrollments, NPS answers, coupon redemptions), or None for no link. The
        default reads references of the default form ("shop.order:12") and links to the
        model's change page when that model is registered in the Django admin."""
        label, _, pk = order_ref.rpartition(":")
        app_label, _, model_name = label.partition(".")
        if not (app_label and model_name and pk):
            return None
        try:
            return reverse(f"admin:{app_label}_{model_name}_change", args=[pk])
        except NoReverseMatch:
            return None

    def review_ref(self, review: Any) -> str:
        return f"{review._meta.label_lower}:{review.pk}"

    def review_snapshot(self, review: Any) -> dict[str, Any]:
        """Return the review as a dict with at least ``email``; ``order_ref``, ``product``
        ({sku, name, url}), ``rating`` and ``text`` are used when present."""
        raise NotImplementedError(
            f"{type(self).__name__}.review_snapshot() must return the review as a dict"
        )

    def user_for(self, obj: Any, email: str) -> Any:
        """The shop's user account behind an order or review (``obj``, whose snapshot
        has the address ``email``), or None for a guest. Stored as ``Contact.user`` (the
        latest order wins; None never unlinks). The default: ``obj.user`` when that is a
        saved user; a guest order is not matched to an account by its address, since
        anyone can type any address at a guest checkout (DefaultAdapter does match)."""
        user = getattr(obj, "user", None)
        if isinstance(user, get_user_model()) and user.pk is not None:
            return user
        return None

    def recommendations(self, snapshot: dict[str, Any], limit: int = 3) -> list[dict[str, Any]]:
        """Products to suggest after this order: dicts with name, url, image_url, price,
        currency. The default is the app's own, from its order history
        (``postpurchase.recommendations.for_order``: bought together, pricier in the
        category, bestsellers; each with sku, category and ``reason``). To filter or
        re-rank them (stock, margin), call ``super().recommendations(snapshot, limit=...)``
        with a larger limit and return your choice of ``limit`` of them."""
        return for_order(snapshot, limit=limit)

    def replenish_days(self, item: dict[str, Any], snapshot: dict[str, Any]) -> float | None:
        """Days one unit of this order item lasts (a 30-day pack of lenses: 30), or None
        when unknown (the app then learns it from repurchases). The default reads the
        item's ``replenish_days``; a value that is not a positive number is ignored."""
        return positive_days(item.get("replenish_days"))

    def reviewed_skus(self, snapshot: dict[str, Any]) -> set[str]:
        """SKUs of this order's items that the customer (``snapshot["email"]``) has
        already reviewed: review requests leave them out (``items_to_review``). Called
        at most once per email, only if the template uses it. The default: none."""
        return set()

    def mirror_coupon(self, coupon: Any) -> None:
        """A code was issued (``postpurchase.models.Coupon``): copy it into the shop's
        own discount system if the checkout uses that instead of
        ``postpurchase.coupons.validate_coupon``. Called once per code, after commit,
        before the email carrying it is sent. Errors are logged, not raised. The
        default does nothing."""

    def coupon_expired(self, coupon: Any) -> None:
        """A code's validity ended (the ``postpurchase_expire_coupons`` job): remove or
        disable its mirror. Called once per code. The default does nothing."""


class DefaultAdapter(BaseAdapter):
    """Reads the attribute names most shops use; subclass :class:`BaseAdapter` for yours.

    Order: ``email`` (or ``customer_email`` or ``user.email``), ``first_name``/
    ``last_name``, ``number``, ``currency``, ``total``, and items from ``items`` or
    ``lines`` (each with ``name``, ``sku``, ``quantity``/``qty``, ``price``).
    """

    def order_snapshot(self, order: Any) -> dict[str, Any]:
        user = getattr(order, "user", None)
        email = (
            getattr(order, "email", None)
            or getattr(order, "customer_email", None)
            or getattr(user, "email", None)
        )
        items = []
        manager = getattr(order, "items", None) or getattr(order, "lines", None)
        for line in manager.all() if manager is not None else []:
            qty = getattr(line, "quantity", None) or getattr(line, "qty", 1)
            price = getattr(line, "price", None) or getattr(line, "unit_price", 0)
            items.append(
                {
                    "sku": str(getattr(line, "sku", "") or ""),
                    "name": str(getattr(line, "name", None) or getattr(line, "title", "")),
                    "qty": int(qty),
                    "price": str(price),
                    "total": str(Decimal(str(price)) * int(qty)),
                }
            )
        return {
            "number": str(getattr(order, "number", None) or order.pk),
            "email": email,
            "first_name": getattr(order, "first_name", None) or getattr(user, "first_name", ""),
            "last_name": getattr(order, "last_name", None) or getattr(user, "last_name", ""),
            "currency": getattr(order, "currency", "") or "",
            "total": str(getattr(order, "total", "") or ""),
            "items": items,
        }

    def user_for(self, obj: Any, email: str) -> Any:
        """``obj.user``, else the one user whose address is ``email`` (any case); None
        when no user, or more than one, has it."""
        user = super().user_for(obj, email)
        if user is not None:
            return user
        User = get_user_model()
        field = User.get_email_field_name()
        matches = list(User._default_manager.filter(**{f"{field}__iexact": email})[:2])
        return matches[0] if len(matches) == 1 else None

    def review_snapshot(self, review: Any) -> dict[str, Any]:
        user = getattr(review, "user", None)
        return {
            "email": getattr(review, "email", None) or getattr(user, "email", None),
            "rating": getattr(review, "rating", None),
            "text": str(getattr(review, "text", "") or ""),
        }


@lru_cache(maxsize=8)
def _load(path: str) -> BaseAdapter:
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["ADAPTER"] = {path!r} cannot be imported: {exc}'
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseAdapter)):
        raise PostpurchaseConfigurationError(
            f'POSTPURCHASE["ADAPTER"] = {path!r} must name a subclass of '
            "postpurchase.adapters.BaseAdapter"
        )
    return cls()


def get_adapter() -> BaseAdapter:
    """The configured adapter instance (one per process)."""
    return _load(get_setting("ADAPTER"))


def positive_days(value: Any) -> float | None:
    """A number of days from shop data ("30", 30, 7.5) or a setting; None for anything
    that is not a positive finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        days = float(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return None
    return days if 0 < days < 100_000 else None


def strip_nul(value: Any, path: str, found: list[str]) -> Any:
    """``value`` with NUL characters removed from every string in it, keys included
    (PostgreSQL refuses them in text and in jsonb); the path of each string that had
    one ("order.items[0].name") is appended to ``found``."""
    if isinstance(value, str):
        if "\x00" in value:
            found.append(path)
            return value.replace("\x00", "")
        return value
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                key = key.replace("\x00", "")
                found.append(f"{path}.{key}")
            cleaned[key] = strip_nul(item, f"{path}.{key}", found)
        return cleaned
    if isinstance(value, list):
        return [strip_nul(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
    return value


def warn_stripped(found: list[str]) -> None:
    """Log which fields had NUL characters removed (the fields, never their values)."""
    if found:
        fields = ", ".join(dict.fromkeys(found))
        logger.warning("postpurchase: removed NUL characters from %s", fields)


def normalize_locale(value: str) -> str:
    """A language code Contact.locale can hold, from what a shop sends: lower case,
    hyphens ("pt_BR" -> "pt-br"), cut before an extension or private-use part
    ("ru-RU-x-..." -> "ru-ru") and after the last whole subtag that fits 16 characters.
    "" if it does not start with a language code."""
    parts = value.strip().replace("_", "-").lower().split("-")
    if not _LANGUAGE.fullmatch(parts[0]):
        return ""
    code = parts[0]
    for part in parts[1:]:
        # A one-letter subtag ("x", "u") starts an extension: not part of the language.
        if not _SUBTAG.fullmatch(part) or len(code) + 1 + len(part) > CONTACT_FIELDS["locale"]:
            break
        code = f"{code}-{part}"
    return code


def _is_time_zone(name: str) -> bool:
    if len(name) > CONTACT_FIELDS["timezone"]:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def contact_details(details: dict[str, Any]) -> dict[str, Any]:
    """The contact fields of ``details`` (an order snapshot or track()'s ``contact``)
    as Contact holds them. Names go on one line, cut at 150 characters; a locale is
    trimmed to its language code; a time zone that is not one is left out; NUL
    characters are removed; ``birthday`` (an ISO date or a date) becomes a date and
    ``attributes`` a dict of short keys and plain values (see ``contact_attributes``).
    Each change is logged as a warning naming the field ("contact.locale"), never its
    value."""
    cleaned: dict[str, Any] = {}
    nul: list[str] = []
    for field, limit in CONTACT_FIELDS.items():
        raw = details.get(field)
        if raw in (None, ""):
            continue
        text = strip_nul(str(raw), f"contact.{field}", nul)
        if field == "locale":
            value = normalize_locale(text)
            if value != text.strip().replace("_", "-").lower():
                logger.warning(
                    "postpurchase: contact.locale is not a language code Contact holds "
                    "(%s characters); %s",
                    len(text),
                    f"trimmed to {value!r}" if value else "ignored",
                )
        elif field == "timezone":
            value = text.strip()
            if not _is_time_zone(value):
                logger.warning(
                    "postpurchase: contact.timezone is not a time zone (%s characters); ignored",
                    len(value),
                )
                value = ""
        else:
            value = " ".join(text.split())  # one line: names end up in email headers
            if len(value) > limit:
                logger.warning(
                    "postpurchase: contact.%s is longer than %s characters; cut", field, limit
                )
                value = value[:limit]
        if value:
            cleaned[field] = value
    warn_stripped(nul)
    birthday = contact_birthday(details.get("birthday"))
    if birthday is not None:
        cleaned["birthday"] = birthday
    attributes = contact_attributes(details.get("attributes"))
    if attributes:
        cleaned["attributes"] = attributes
    return cleaned


#: An attribute's key and text value are cut at these lengths; at most this many keys.
ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX, ATTRIBUTES_MAX = 64, 200, 50


def contact_birthday(value: Any) -> date | None:
    """A birthday as Contact holds it, from a date or an ISO date ("1990-02-29"); a
    value that is not one (or lies in the future) is left out with a warning."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            logger.warning("postpurchase: contact.birthday is not an ISO date; ignored")
            return None
    if value.year < 1900 or value > clock.now().date():
        logger.warning("postpurchase: contact.birthday is out of range; ignored")
        return None
    return value


def contact_attributes(value: Any) -> dict[str, Any]:
    """The customer's attributes (age_band, gender, city, country, ...) as Contact
    holds them: string keys of up to 64 characters, values that are text (one line, up
    to 200 characters), numbers, booleans or lists of those; others are left out with
    a warning naming the key."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        logger.warning("postpurchase: contact.attributes is not a dict; ignored")
        return {}
    cleaned: dict[str, Any] = {}
    for key, item in list(value.items())[:ATTRIBUTES_MAX]:
        name = " ".join(str(key).replace("\x00", "").split())[:ATTRIBUTE_KEY_MAX]
        kept = _attribute_value(item)
        if not name or kept is None:
            logger.warning("postpurchase: contact.attributes.%s is not plain; ignored", name)
            continue
        cleaned[name] = kept
    return cleaned


def _attribute_value(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return " ".join(value.replace("\x00", "").split())[:ATTRIBUTE_VALUE_MAX]
    if isinstance(value, list | tuple):
        items = [_attribute_value(v) for v in value if not isinstance(v, list | tuple | dict)]
        return [v for v in items if v is not None]
    return None


def email_problem(email: Any) -> str:
    """Why ``email`` cannot be a contact's address ("" if it can), without quoting it:
    the text is logged."""
    if not isinstance(email, str) or not email.strip():
        return "it is missing" if email in (None, "") else f"it is a {type(email).__name__}"
    try:
        normalize_email(email)
    except ValidationError as exc:
        return f"{' '.join(str(m) for m in exc.messages)} ({len(email)} characters)"
    return ""


def typed_value(value: Any, kind: str, field: str) -> Any:
    """``value`` (after the JSON round trip) as a snapshot key of ``kind`` holds it, or
    an AdapterError naming ``field``; see ORDER_TYPES."""
    if value is None or value == "":
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AdapterError(f"{field} must be {_EXPECTED[kind]}, got {type(value).__name__}")
    if kind == TEXT:
        return value if isinstance(value, str) else str(value)
    if kind == AMOUNT:
        # Text that is not a number ("on request") is shown as given by `money`.
        return value if isinstance(value, str) else str(Decimal(str(value)))
    if kind == COUNT:
        try:
            count = Decimal(str(value).strip())
        except InvalidOperation:
            count = None
        if count is None or not count.is_finite() or count != count.to_integral_value():
            raise AdapterError(f"{field} must be a whole number, got {value!r}")
        return int(count)
    if not isinstance(value, str):
        raise AdapterError(f"{field} must be {_EXPECTED[kind]}, got {type(value).__name__}")
    if kind in (DATE, DATETIME):
        try:
            (date if kind == DATE and len(value) == 10 else datetime).fromisoformat(value)
        except ValueError:
            raise AdapterError(f"{field} must be {_EXPECTED[kind]}, got {value!r}") from None
        return value
    # URL: emails are read outside the site, so a link must be absolute.
    if value.startswith(("https://", "http://")):
        return value
    if value.startswith("/") and not value.startswith("//"):
        logger.warning("postpurchase: %s is a relative link; SITE_URL put in front", field)
        return site_url() + value
    raise AdapterError(f"{field} must be an absolute http(s) URL (or start with /)")


_EXPECTED = {
    TEXT: "a string",
    AMOUNT: "a decimal string or a number",
    COUNT: "a whole number",
    DATE: "an ISO date string (a date)",
    DATETIME: "an ISO datetime string (a datetime)",
    URL: "an absolute URL string",
}


def enforce_order_types(snapshot: dict[str, Any], what: str = "order") -> dict[str, Any]:
    """The order snapshot with each documented key converted to its documented type
    (see ORDER_TYPES), in place; an AdapterError names the first key that cannot be."""
    for key, kind in ORDER_TYPES.items():
        if key in snapshot:
            snapshot[key] = typed_value(snapshot[key], kind, f"{what}.{key}")
    items = snapshot.get("items")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            raise AdapterError(f"{what}.items[{i}] must be a dict, got {type(item).__name__}")
        for key, kind in ITEM_TYPES.items():
            if key in item:
                item[key] = typed_value(item[key], kind, f"{what}.items[{i}].{key}")
    return snapshot


def adapter_user(adapter: BaseAdapter, obj: Any, email: str) -> Any:
    """``adapter.user_for()``, checked: a saved instance of the user model, or None."""
    user = adapter.user_for(obj, email)
    if user is not None and not (isinstance(user, get_user_model()) and user.pk is not None):
        raise AdapterError(
            f"The adapter's user_for() must return a saved {get_user_model().__name__} or "
            f"None, got {type(user).__name__}"
        )
    return user


def clean_snapshot(data: Any, *, what: str = "order") -> dict[str, Any]:
    """Check an adapter's snapshot and return a JSON-safe copy (Decimals become strings,
    NUL characters are removed with a warning naming each field). An order snapshot's
    documented keys get their documented types (``enforce_order_types``)."""
    if not isinstance(data, dict):
        raise AdapterError(
            f"The adapter's {what} snapshot must be a dict, got {type(data).__name__}"
        )
    try:
        cleaned = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise AdapterError(
            f"The adapter's {what} snapshot is not JSON-serializable: {exc}"
        ) from exc
    problem = email_problem(cleaned.get("email"))
    if problem:
        # Named, not quoted: the error is logged, and an address is personal data.
        raise AdapterError(f"The adapter's {what} snapshot has no valid 'email': {problem}")
    nul: list[str] = []
    cleaned = strip_nul(cleaned, what, nul)
    warn_stripped(nul)
    # Always a list: a template's {% for item in order.items %} would otherwise find the
    # dict's own .items() method and loop over the snapshot's keys.
    items = cleaned.setdefault("items", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AdapterError(f"The adapter's {what} snapshot 'items' must be a list of dicts")
    if what == "order":
        enforce_order_types(cleaned)
    return cleaned
