"""Previews of email steps for staff: rendered with a real recent order or a sample,
in any language; and test sends that never count as real messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

from anymail.message import AnymailMessage
from django.template import Context
from django.utils import translation

from postpurchase import clock
from postpurchase.conf import brand, site_url
from postpurchase.coupons import sample_coupon
from postpurchase.delivery import from_email
from postpurchase.delivery.mail_dir import copy_stem, write_mail_copy
from postpurchase.email.blocks import VARIABLES, compile_blocks
from postpurchase.email.rendering import (
    RenderedEmail,
    contents_of,
    get_engine,
    pick_language,
    render_content,
)
from postpurchase.models import (
    Contact,
    CouponPolicy,
    EmailContent,
    EmailStep,
    Enrollment,
    Event,
    Flow,
)

SAMPLE_ORDER: dict[str, Any] = {
    "ref": "sample.order:1",
    "number": "1001",
    "email": "sample@example.com",
    "first_name": "Anna",
    "last_name": "Petrova",
    "locale": "en",
    "currency": "RUB",
    "placed_at": "2026-01-15T10:00:00+00:00",
    "delivery_estimate": "2026-01-18",
    "items": [
        {
            "sku": "SKU-1",
            "name": "Backpack",
            "category": "Backpacks",
            "qty": 1,
            "price": "4990.00",
            "total": "4990.00",
            "image_url": "",
            "url": "https://example.com/p/1/",
            "review_url": "https://example.com/p/1/#review",
        }
    ],
    "subtotal": "4990.00",
    "shipping_cost": "0.00",
    "discount": "0.00",
    "total": "4990.00",
    "payment_method": "Card",
    "shipping_method": "Courier",
    "shipping_address": "1 Main St.",
    "tracking_url": "https://example.com/track/1",
    "order_url": "https://example.com/orders/1001/",
}


def sample_snapshot(flow: Flow) -> dict[str, Any]:
    """The most recent real order this flow saw, else a built-in sample."""
    recent = Enrollment.objects.filter(flow=flow).exclude(snapshot={}).order_by("-id").first()
    return recent.snapshot if recent else SAMPLE_ORDER


def sample_context(snapshot: dict[str, Any], category: str) -> dict[str, Any]:
    """A template context like a real send's, for ``snapshot``'s customer."""
    brand_values = brand()
    contact = Contact(
        email=snapshot.get("email") or "sample@example.com",
        first_name=snapshot.get("first_name") or "",
        last_name=snapshot.get("last_name") or "",
    )
    return {
        "contact": contact,
        "order": snapshot,
        "brand": brand_values,
        "brand_key": json.dumps(brand_values, sort_keys=True, default=str),
        "site_url": site_url(),
        "recommendations": [
            {
                "name": "Rain cover",
                "url": site_url(),
                "image_url": "",
                "price": "990",
                "currency": "RUB",
            }
        ],
        "items_to_review": list(snapshot.get("items") or []),
        "event": {},
        "is_marketing": category == "marketing",
        "unsubscribe_url": site_url() + "/unsubscribe/sample/" if category == "marketing" else "",
        "preferences_url": site_url() + "/preferences/sample/" if category == "marketing" else "",
        "message_id": "00000000-0000-0000-0000-000000000000",
    }


def preview_step(
    step: EmailStep, language: str | None = None, *, real_order: bool = True
) -> RenderedEmail:
    """Render ``step``'s email as a customer of the flow would get it (marketing footer
    and all), in ``language`` or the best available one; with the flow's latest real
    order unless ``real_order`` is False (staff who may not see customers' orders).
    Raises TemplateRenderError."""
    contents = contents_of(step.template)
    content = contents[pick_language(language, list(contents))]
    snapshot = sample_snapshot(step.flow) if real_order else SAMPLE_ORDER
    context = sample_context(snapshot, step.category)
    if step.coupon_policy_id:
        context["coupon"] = sample_coupon(step.coupon_policy, context["contact"])
    return render_content(content, context)


def send_test(
    step: EmailStep, to: str, language: str | None = None, *, real_order: bool = True
) -> RenderedEmail:
    """Send the step's email to ``to`` (a staff address), subject marked as a test, and
    put a copy in MAIL_DIR like every email. No Message row is written, so tests never
    count in statistics (the admin records the send in the flow's history)."""
    rendered = preview_step(step, language, real_order=real_order)
    subject = f"[TEST] {rendered.subject}"
    email = AnymailMessage(
        subject=subject,
        body=rendered.text,
        from_email=from_email(step.category),
        to=[to],
        headers={"X-Postpurchase-Test": "1"},
        tags=["postpurchase-test"],
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send()
    stem = copy_stem(clock.now(), "test", uuid.uuid4().hex[:12])
    write_mail_copy(stem, to, subject, rendered.text, rendered.html)
    return rendered


# A policy for previews of a template no coupon step uses yet, so a coupon block shows.
SAMPLE_POLICY = CouponPolicy(name="Sample", percent=10, validity_days=30, code_prefix="SAMPLE")


def recent_orders(limit: int = 10) -> list[Event]:
    """The latest events that carry an order, newest first, one per order: what a
    preview can show instead of the sample."""
    seen: set[str] = set()
    found: list[Event] = []
    for event in Event.objects.exclude(snapshot={}).order_by("-occurred_at", "-id")[: limit * 5]:
        key = event.order_ref or str(event.pk)
        if key not in seen:
            seen.add(key)
            found.append(event)
        if len(found) == limit:
            break
    return found


def preview_content(
    content: EmailContent, blocks=None, snapshot: dict[str, Any] | None = None
) -> RenderedEmail:
    """Render a content, saved or not, as a customer gets it: with ``blocks`` (unsaved
    EmailBlock objects) compiled into its body when it uses the block editor, the
    category and coupon of a step that sends it, and ``snapshot`` or the sample order.
    Raises BlockError or TemplateRenderError: what the editor refuses to save."""
    if content.editor == EmailContent.BLOCKS and blocks is not None:
        content.body = compile_blocks(blocks)
    step = None
    if content.template_id:
        step = (
            EmailStep.objects.filter(template_id=content.template_id)
            .select_related("coupon_policy")
            .order_by("-coupon_policy_id", "id")
            .first()
        )
    context = sample_context(snapshot or SAMPLE_ORDER, step.category if step else "marketing")
    policy = step.coupon_policy if step and step.coupon_policy_id else SAMPLE_POLICY
    context["coupon"] = sample_coupon(policy, context["contact"])
    return render_content(content, {**context, "language": content.language})


def variable_samples(language: str) -> list[dict[str, str]]:
    """The variables menu: each variable's name, label and value for the sample order
    in ``language``."""
    context = sample_context(SAMPLE_ORDER, "marketing")
    context["coupon"] = sample_coupon(SAMPLE_POLICY, context["contact"])
    engine = get_engine(autoescape=False)
    rows = []
    with translation.override(language):
        for variable in VARIABLES.values():
            source = f"{{{{ {variable.expression} }}}}"
            rows.append(
                {
                    "name": variable.name,
                    "label": str(variable.label),
                    "sample": engine.from_string(source).render(Context(context, autoescape=False)),
                    "is_url": variable.is_url,
                }
            )
    return rows
