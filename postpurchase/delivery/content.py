"""What an email template sees: the context of one message, built from its enrollment."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from postpurchase import clock
from postpurchase.adapters import get_adapter
from postpurchase.conf import brand, site_url
from postpurchase.coupons import escalation_allows, issue_for_message, withdraw_earlier
from postpurchase.email.rendering import RenderedEmail, render_template
from postpurchase.engine.context import Batch, StepContext
from postpurchase.exceptions import AdapterCallError, TemplateRenderError
from postpurchase.public.tokens import preferences_url, unsubscribe_url

if TYPE_CHECKING:
    from postpurchase.models import EmailStep, Message


def step_coupon(step: EmailStep, message: Message, ctx: StepContext):
    """The coupon this message carries when its step has a coupon policy: issued on the
    first attempt, found again on a retry (unique per message and policy). An
    escalating step ("only if the earlier code went unused") issues none when the
    enrollment's previous code was used; with ``withdraw_previous`` the earlier unused
    codes stop working once this one is issued."""
    if not step.coupon_policy_id:
        return None
    policy = step.coupon_policy
    coupon = message.coupons.filter(policy=policy).first()
    enrollment_id = ctx.enrollment.pk
    if coupon is None and policy.is_active:  # an inactive policy issues nothing new
        if step.coupon_escalation != step.Escalation.IF_UNUSED or escalation_allows(
            enrollment_id, message
        ):
            coupon = issue_for_message(policy, message, now=ctx.now)
    if coupon is not None:
        if step.withdraw_previous:
            # Also on a retry: the withdrawal is idempotent.
            withdraw_earlier(enrollment_id, coupon, now=ctx.now)
        coupon.contact = ctx.contact
    return coupon


def _adapter_call(name: str, call):
    """Run an adapter call made while rendering; its failure is the adapter's, not the
    template's (so the email is retried, not failed for good)."""
    try:
        return call()
    except Exception as exc:
        raise AdapterCallError(
            f"the shop adapter's {name}() raised {type(exc).__name__}: {exc}"
        ) from exc


def email_context(
    ctx: StepContext, message: Message, category: str, *, coupon=None
) -> dict[str, Any]:
    """What every email template sees (documented in docs/templates.md). ``coupon`` is
    the code the message carries (its step's coupon policy), else None."""
    enrollment = ctx.enrollment
    snapshot = enrollment.snapshot
    marketing = category == "marketing"

    @cache
    def recommendations():
        # An enrollment without an order (a birthday, a replenishment reminder) has no
        # snapshot address: name its own contact's, so what they bought is left out.
        about = (
            snapshot
            if isinstance(snapshot, dict) and snapshot.get("email")
            else {
                **(snapshot if isinstance(snapshot, dict) else {}),
                "email": ctx.contact.email,
            }
        )
        return _adapter_call(
            "recommendations", lambda: get_adapter().recommendations(about, limit=3)
        )

    @cache
    def items_to_review():
        return items_left_to_review(snapshot)

    @cache
    def event():
        trigger = enrollment.trigger_event
        return dict(trigger.data) if trigger is not None else {}

    return {
        "contact": ctx.contact,
        "order": snapshot,
        "brand": _brand(ctx.batch.cache),
        "brand_key": ctx.batch.cache["brand_key"],
        "site_url": site_url(),
        "recommendations": recommendations,
        "items_to_review": items_to_review,
        "event": event,
        "is_marketing": marketing,
        "unsubscribe_url": unsubscribe_url(ctx.contact.pk, message.pk) if marketing else "",
        "preferences_url": preferences_url(ctx.contact.pk, message.pk) if marketing else "",
        "message_id": str(message.pk),
        "coupon": coupon,
    }


def items_left_to_review(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's items minus those the customer already reviewed (the adapter's
    ``reviewed_skus``); items without a SKU always stay."""
    items = [i for i in snapshot.get("items") or [] if isinstance(i, dict)]
    if not any(i.get("sku") for i in items):
        return items
    reviewed = _adapter_call("reviewed_skus", lambda: get_adapter().reviewed_skus(snapshot))
    reviewed = reviewed or set()
    return [i for i in items if not i.get("sku") or str(i["sku"]) not in reviewed]


def _brand(cache: dict) -> dict[str, Any]:
    """The branding, read once per batch, with a key that changes when it changes (for
    the ``{% brandpart %}`` fragments of the layout)."""
    if "brand" not in cache:
        cache["brand"] = brand()
        cache["brand_key"] = json.dumps(cache["brand"], sort_keys=True, default=str)
    return cache["brand"]


def message_language(*candidates: Any) -> str | None:
    """The first usable language code among ``candidates`` (the contact's, the order's):
    bad data such as a number in the snapshot is skipped, not a crash."""
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def message_step(message: Message):
    """The email step a recorded message came from; TemplateRenderError if it is gone."""
    step = message.step.get_real_instance() if message.step_id else None
    if step is None or not hasattr(step, "template"):
        raise TemplateRenderError("This message's step no longer exists.")
    return step


def render_message(message: Message, batch: Batch | None = None, step=None) -> RenderedEmail:
    """Render a recorded message again, as its step's template renders it now, with the
    coupon it carried (the admin's view of it, and a resend). Raises
    TemplateRenderError if the template is broken or the step gone."""
    step = step or message_step(message)
    batch = batch or Batch(now=clock.now())
    ctx = StepContext(enrollment=message.enrollment, step=step, batch=batch)
    coupon = message.coupons.select_related("contact").first()
    return render_template(
        step.template,
        message.language or message_language(message.contact.locale, ctx.snapshot.get("locale")),
        email_context(ctx, message, message.category, coupon=coupon),
        cache=batch.cache,
    )
