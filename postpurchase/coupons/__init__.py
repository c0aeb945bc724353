"""Coupons: issue codes, check and redeem them at checkout, expire them.

The shop's checkout needs two calls (see docs/coupons.md)::

    from postpurchase.coupons import CouponError, redeem_coupon, validate_coupon

    check = validate_coupon(code, email, cart_total, categories=["backpacks"])
    if not check.ok:
        form.add_error("coupon", check.message)      # check.reason: "expired", ...
    ...
    redemption = redeem_coupon(code, email, order.number, cart_total)  # atomic

and an HTTP endpoint that checks codes must guard itself with :func:`take_code_attempt`
(before the code is looked up) and :func:`give_back_code_attempt` (once it was accepted).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from postpurchase import clock, signals
from postpurchase.adapters import get_adapter
from postpurchase.exceptions import PostpurchaseError
from postpurchase.models import Contact, Coupon, CouponPolicy, CouponRedemption, normalize_email
from postpurchase.models.coupons import CODE_ALPHABET, MIN_CODE_LENGTH
from postpurchase.public import ratelimit

if TYPE_CHECKING:
    from postpurchase.models import Message

logger = logging.getLogger("postpurchase.coupons")

__all__ = [
    "CODE_ALPHABET",
    "CouponCheck",
    "CouponError",
    "Reason",
    "expire_coupons",
    "generate_code",
    "give_back_code_attempt",
    "issue_coupon",
    "normalize_code",
    "redeem_coupon",
    "take_code_attempt",
    "validate_coupon",
]

CENT = Decimal("0.01")


class Reason:
    """Why a code was refused: the machine-readable ``CouponCheck.reason``."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    WRONG_CUSTOMER = "wrong_customer"
    BELOW_MINIMUM = "below_minimum"
    CATEGORY_MISMATCH = "category_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"


MESSAGES = {
    Reason.UNKNOWN: _("This coupon code does not exist."),
    Reason.EXPIRED: _("This coupon has expired."),
    Reason.USED: _("This coupon has already been used."),
    Reason.WRONG_CUSTOMER: _("This coupon belongs to another customer."),
    Reason.BELOW_MINIMUM: _("Your order total is below this coupon's minimum."),
    Reason.CATEGORY_MISMATCH: _("This coupon is not valid for the products in your cart."),
    Reason.CURRENCY_MISMATCH: _("This coupon is not valid in your cart's currency."),
}


class CouponError(PostpurchaseError, ValueError):
    """A code cannot be redeemed; ``reason`` is one of :class:`Reason`."""

    def __init__(self, reason: str, check: CouponCheck | None = None):
        super().__init__(str(MESSAGES.get(reason, reason)))
        self.reason = reason
        self.check = check


@dataclass
class CouponCheck:
    """The answer of :func:`validate_coupon`."""

    ok: bool
    reason: str | None = None
    coupon: Coupon | None = None
    #: What the coupon takes off ``cart_total`` (0 for free shipping).
    discount: Decimal = field(default_factory=lambda: Decimal("0"))
    free_shipping: bool = False

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        """A sentence for the customer (translated), empty when the code is fine."""
        return "" if self.ok else str(MESSAGES.get(self.reason, self.reason))


# --- codes ---------------------------------------------------------------------------


def generate_code(length: int = 12, prefix: str = "", alphabet: str = CODE_ALPHABET) -> str:
    """A random code: ``prefix`` + ``length`` characters from ``secrets``."""
    if length < MIN_CODE_LENGTH and alphabet == CODE_ALPHABET:
        raise ValueError(f"codes need at least {MIN_CODE_LENGTH} random characters")
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def normalize_code(code: str) -> str:
    """What a customer typed, as stored: upper case, no spaces."""
    return "".join(str(code or "").split()).upper()


# --- issue ---------------------------------------------------------------------------


def issue_coupon(
    policy: CouponPolicy,
    contact: Contact,
    *,
    message: Message | None = None,
    now: datetime | None = None,
) -> Coupon:
    """A fresh code of ``policy`` for ``contact``. With ``message``, idempotent: the unique
    (message, policy) constraint makes a retry of the same email get the code it was
    given the first time. Calls the adapter's ``mirror_coupon`` and sends
    ``coupon_issued`` after commit, once per code."""
    now = now or clock.now()
    for _attempt in range(5):
        coupon = new_coupon(policy, contact, now, message=message)
        try:
            with transaction.atomic():
                coupon.save(force_insert=True)
        except IntegrityError:
            if message is not None:
                existing = Coupon.objects.filter(message=message, policy=policy).first()
                if existing is not None:
                    return existing
            continue  # a code collision (about 2**-50): draw again
        transaction.on_commit(lambda c=coupon: _issued(c))
        return coupon
    raise PostpurchaseError(f"could not issue a unique code for policy {policy.pk}")


def issue_for_message(policy: CouponPolicy, message: Message, now=None) -> Coupon:
    """The code an email carries: found if this message was given one already."""
    existing = Coupon.objects.filter(message=message, policy=policy).first()
    if existing is not None:
        return existing
    return issue_coupon(policy, message.contact, message=message, now=now)


def _issued(coupon: Coupon) -> None:
    try:
        get_adapter().mirror_coupon(coupon)
    except Exception:
        logger.exception("postpurchase: the adapter's mirror_coupon failed for %s", coupon.pk)
    signals.emit(signals.coupon_issued, Coupon, coupon=coupon)


# --- check and redeem ----------------------------------------------------------------


def _categories(categories) -> set[str]:
    if not categories:
        return set()
    if isinstance(categories, str):
        categories = [categories]
    return {str(c).strip().lower() for c in categories if str(c).strip()}


def _discount(coupon: Coupon, total: Decimal) -> Decimal:
    if coupon.kind == CouponPolicy.Kind.PERCENT and coupon.percent is not None:
        value = total * coupon.percent / Decimal(100)
    elif coupon.kind == CouponPolicy.Kind.FIXED and coupon.amount is not None:
        value = min(coupon.amount, total)
    else:
        value = Decimal("0")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _check(
    coupon: Coupon | None, email: str, total: Decimal, categories, currency, now
) -> CouponCheck:
    if coupon is None:
        return CouponCheck(False, Reason.UNKNOWN)
    try:
        email = normalize_email(email)
    except Exception:
        email = str(email or "").strip().lower()
    if coupon.contact.email != email:
        # Says nothing more about someone else's code.
        return CouponCheck(False, Reason.WRONG_CUSTOMER)
    if coupon.expired_at is not None or coupon.expires_at <= now:
        return CouponCheck(False, Reason.EXPIRED, coupon)
    if coupon.uses_left <= 0:
        return CouponCheck(False, Reason.USED, coupon)
    if currency and coupon.currency and currency.upper() != coupon.currency:
        return CouponCheck(False, Reason.CURRENCY_MISMATCH, coupon)
    if total < coupon.minimum_total:
        return CouponCheck(False, Reason.BELOW_MINIMUM, coupon)
    allowed = _categories(coupon.category_list)
    if allowed and not (allowed & _categories(categories)):
        return CouponCheck(False, Reason.CATEGORY_MISMATCH, coupon)
    return CouponCheck(
        True,
        None,
        coupon,
        discount=_discount(coupon, total),
        free_shipping=coupon.kind == CouponPolicy.Kind.FREE_SHIPPING,
    )


def _find(code: str) -> Coupon | None:
    code = normalize_code(code)
    if not code:
        return None
    return Coupon.objects.select_related("contact", "policy").filter(code=code).first()


def validate_coupon(
    code: str,
    email: str,
    cart_total,
    categories=None,
    *,
    currency: str | None = None,
    now: datetime | None = None,
) -> CouponCheck:
    """May ``email`` use ``code`` on a cart of ``cart_total`` (with products of
    ``categories``, in ``currency``)? Reads only; :func:`redeem_coupon` uses the code."""
    return _check(
        _find(code), email, Decimal(str(cart_total)), categories, currency, now or clock.now()
    )


class _AlreadyRedeemed(Exception):
    pass


def redeem_coupon(
    code: str,
    email: str,
    order_ref: str,
    cart_total,
    categories=None,
    *,
    currency: str | None = None,
    now: datetime | None = None,
) -> CouponRedemption:
    """Use ``code`` once for order ``order_ref``, atomically: of two checkouts racing for
    the last use exactly one wins, the other gets ``CouponError("used")``. Redeeming the
    same code for the same order again returns the first redemption (a retried
    checkout). Sends ``coupon_redeemed`` after commit. Raises :class:`CouponError`."""
    now = now or clock.now()
    total = Decimal(str(cart_total))
    order_ref = str(order_ref)
    check = _check(_find(code), email, total, categories, currency, now)
    coupon = check.coupon
    if coupon is not None and check.reason in (None, Reason.USED, Reason.EXPIRED):
        earlier = CouponRedemption.objects.filter(coupon=coupon, order_ref=order_ref).first()
        if earlier is not None:
            return earlier
    if not check.ok:
        raise CouponError(check.reason, check)
    try:
        with transaction.atomic():
            # The conditional UPDATE is the lock: a second checkout waits for the first
            # to commit, then finds no use left and updates nothing.
            taken = Coupon.objects.filter(
                pk=coupon.pk, uses_left__gt=0, expires_at__gt=now, expired_at__isnull=True
            ).update(uses_left=F("uses_left") - 1)
            if not taken:
                earlier = CouponRedemption.objects.filter(coupon=coupon, order_ref=order_ref)
                if earlier.exists():  # the same order, redeemed by a concurrent retry
                    raise _AlreadyRedeemed
                coupon.refresh_from_db()
                reason = Reason.USED if coupon.uses_left <= 0 else Reason.EXPIRED
                raise CouponError(reason, CouponCheck(False, reason, coupon))
            try:
                with transaction.atomic():
                    redemption = CouponRedemption.objects.create(
                        coupon=coupon,
                        order_ref=order_ref,
                        email=coupon.contact.email,
                        cart_total=total,
                        discount=check.discount,
                        currency=(currency or coupon.currency or "").upper(),
                        redeemed_at=now,
                    )
            except IntegrityError:
                raise _AlreadyRedeemed from None  # rolls the decrement back
            coupon.uses_left -= 1
            # emit() waits for the commit: nothing is announced if the checkout rolls back.
            signals.emit(signals.coupon_redeemed, Coupon, coupon=coupon, redemption=redemption)
    except _AlreadyRedeemed:
        return CouponRedemption.objects.get(coupon=coupon, order_ref=order_ref)
    return redemption


# --- expiry --------------------------------------------------------------------------


def expire_coupons(now: datetime | None = None, batch_size: int = 500) -> int:
    """Mark coupons past their expiry and tell the adapter (``coupon_expired``) once per
    coupon, even when two runs overlap. Returns how many were expired."""
    now = now or clock.now()
    adapter = get_adapter()
    done = 0
    while True:
        ids = list(
            Coupon.objects.filter(expired_at__isnull=True, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        for pk in ids:
            # Conditional update: only the run that flips expired_at calls the hook.
            if not Coupon.objects.filter(pk=pk, expired_at__isnull=True).update(expired_at=now):
                continue
            done += 1
            coupon = Coupon.objects.select_related("contact", "policy").get(pk=pk)
            try:
                adapter.coupon_expired(coupon)
            except Exception:
                logger.exception("postpurchase: the adapter's coupon_expired failed for %s", pk)


# --- escalating offers ---------------------------------------------------------------


def earlier_coupons(enrollment_id: int, message: Message):
    """The codes issued with the enrollment's other emails, latest first."""
    return (
        Coupon.objects.filter(message__enrollment_id=enrollment_id)
        .exclude(message=message)
        .order_by("-issued_at", "-pk")
    )


def was_used(coupon: Coupon) -> bool:
    return coupon.redemptions.exists()


def escalation_allows(enrollment_id: int, message: Message) -> bool:
    """May an escalating step issue its (bigger) offer? Only if the enrollment's
    previous code went unused (or there was none): a customer who used the first offer
    is not given a bigger one."""
    previous = earlier_coupons(enrollment_id, message).first()
    return previous is None or not was_used(previous)


def withdraw_earlier(enrollment_id: int, replaced_by: Coupon, now: datetime | None = None) -> int:
    """End the enrollment's earlier codes that were never used, so only ``replaced_by``
    is valid: each stops working now (the conditional update makes it once per code even
    when two runs overlap), the adapter's ``coupon_expired`` removes its mirror and
    ``coupon_withdrawn`` goes out, after commit. Returns how many were withdrawn."""
    now = now or clock.now()
    unused = earlier_coupons(enrollment_id, replaced_by.message).filter(
        expired_at__isnull=True, redemptions__isnull=True
    )
    withdrawn = 0
    for coupon in unused.exclude(pk=replaced_by.pk).select_related("contact", "policy"):
        taken = Coupon.objects.filter(pk=coupon.pk, expired_at__isnull=True).update(
            expired_at=now, expires_at=min(coupon.expires_at, now)
        )
        if not taken:
            continue
        withdrawn += 1
        coupon.expired_at = now
        transaction.on_commit(lambda c=coupon: _withdrawn(c, replaced_by))
    return withdrawn


def _withdrawn(coupon: Coupon, replaced_by: Coupon) -> None:
    try:
        get_adapter().coupon_expired(coupon)
    except Exception:
        logger.exception("postpurchase: the adapter's coupon_expired failed for %s", coupon.pk)
    signals.emit(signals.coupon_withdrawn, Coupon, coupon=coupon, replaced_by=replaced_by)


__all__ += ["earlier_coupons", "escalation_allows", "was_used", "withdraw_earlier"]


# --- rate limiting -------------------------------------------------------------------

#: Coupon codes a client may try in a window; accepted codes are given back.
ATTEMPT_LIMIT = ratelimit.COUPON_CODES.attempts
ATTEMPT_WINDOW_SECONDS = ratelimit.COUPON_CODES.window


def take_code_attempt(
    key: str, *, limit: int = ATTEMPT_LIMIT, window: int = ATTEMPT_WINDOW_SECONDS
) -> bool:
    """Count an attempt at a coupon code by the client ``key`` (e.g.
    ``ratelimit.client_address(request)``) *before* the code is looked up. False once
    ``limit`` attempts were made in ``window`` seconds: refuse without looking it up.
    Counting first is what holds under concurrency (50 guesses at once: 10 get through).
    Call :func:`give_back_code_attempt` when the code was accepted, so that only
    refused codes count. Counted in ``POSTPURCHASE["ATTEMPT_LIMIT_CACHE"]``."""
    return ratelimit.take(ratelimit.Limit(ratelimit.COUPON_CODES.scope, limit, window), key)


def give_back_code_attempt(key: str) -> None:
    """The code tried after :func:`take_code_attempt` was accepted: it does not count."""
    ratelimit.give_back(ratelimit.COUPON_CODES, key)


# --- template helpers ----------------------------------------------------------------


def sample_coupon(policy: CouponPolicy, contact: Contact, now: datetime | None = None) -> Coupon:
    """An unsaved coupon of ``policy`` for previews and test sends (its code works
    nowhere)."""
    return new_coupon(policy, contact, now or clock.now())


def new_coupon(
    policy: CouponPolicy, contact: Contact, now: datetime, message: Message | None = None
) -> Coupon:
    """An unsaved coupon with a fresh code and its own copy of the policy's terms (so
    editing the policy later never changes a code already sent)."""
    return Coupon(
        policy=policy,
        code=generate_code(policy.code_length, policy.code_prefix),
        contact=contact,
        message=message,
        kind=policy.kind,
        percent=policy.percent,
        amount=policy.amount,
        currency=policy.currency,
        minimum_total=policy.minimum_total,
        categories=policy.categories,
        uses_left=policy.uses_per_code,
        issued_at=now,
        expires_at=now + timedelta(days=policy.validity_days),
    )


def expires_on(coupon: Coupon) -> date:
    """The last day of validity in the contact's time zone (for ``{{ ...|local_date }}``)."""
    return coupon.expires_on


__all__ += ["expires_on", "issue_for_message", "sample_coupon"]
