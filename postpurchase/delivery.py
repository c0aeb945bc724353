"""Sending an EmailStep's email through Django's configured backend (Anymail).

The Message row is created before anything is sent and is unique per (enrollment,
step): a retry, a second worker or a re-run after a crash finds it. A message found
still "sending" after a crash (its worker died between the ESP call and recording the
result) is sent again, carrying the same idempotency key header (its UUID): ESPs and
relays that honour such a header drop the duplicate; others deliver it twice.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from email.utils import formataddr
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.db import transaction

from . import clock, signals
from .adapters import get_adapter
from .conf import brand, get_setting, site_url
from .db import update_rows
from .exceptions import TemplateRenderError
from .models import Enrollment, Message
from .rendering import RenderedEmail, one_line, render_template
from .results import Exit, Fail, Next, StepResult, Wait
from .tokens import unsubscribe_url

if TYPE_CHECKING:
    from .engine.context import StepContext
    from .models import EmailStep

logger = logging.getLogger("postpurchase.delivery")

# A failed message is tried again if its step runs again (staff retried the enrollment
# after fixing a template, say); sent and suppressed ones never are.
DONE = (Message.Status.SENT, Message.Status.SUPPRESSED)

# Sent messages are recorded every this many sends. A worker that dies in between can
# leave up to this many emails "sending"; they go out again, under their idempotency key.
RECORD_EVERY = 50

_RECORDED_FIELDS = [
    "status",
    "error",
    "subject",
    "language",
    "attempts",
    "esp_name",
    "esp_message_id",
    "sent_at",
]


class _Recorder:
    """Collects message outcomes and writes them in one statement per flush, then sends
    their signals (so receivers see committed rows). Each flush also renews the batch's
    lease, so a slow ESP cannot make the batch look abandoned while it is still sending."""

    def __init__(self, lease_tokens: set) -> None:
        self.dirty: list[Message] = []
        self.signals: list[tuple[Any, dict[str, Any]]] = []
        self.lease_tokens = {t for t in lease_tokens if t is not None}

    def add(self, message: Message, status: str, note: str, signal=None, **kwargs) -> None:
        """Set ``status`` and ``note`` (the error, or why it was suppressed) on the
        message; ``signal`` is sent with ``message`` and ``kwargs`` after the write."""
        message.status = status
        message.error = note[:4000]
        self.dirty.append(message)
        if signal is not None:
            self.signals.append((signal, {"message": message, **kwargs}))
        if len(self.dirty) >= RECORD_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.dirty:
            with transaction.atomic():
                update_rows(self.dirty, _RECORDED_FIELDS)
                if self.lease_tokens:
                    Enrollment.objects.filter(lease_token__in=self.lease_tokens).update(
                        lease_expires_at=clock.now()
                        + timedelta(seconds=get_setting("LEASE_SECONDS"))
                    )
        self.dirty = []
        pending, self.signals = self.signals, []
        for signal, kwargs in pending:
            signals.emit(signal, Message, **kwargs)


def send_step_emails(step: EmailStep, contexts: list[StepContext]) -> list[StepResult]:
    """Send ``step``'s email to each enrollment in ``contexts``; one result each."""
    messages = ensure_messages(step, contexts)
    recorder = _Recorder({ctx.enrollment.lease_token for ctx in contexts})
    results = []
    try:
        for ctx in contexts:
            results.append(_send_one(step, ctx, messages[ctx.enrollment.pk], recorder))
    finally:
        recorder.flush()
    return results


def ensure_messages(step: EmailStep, contexts: list[StepContext]) -> dict[int, Message]:
    """The Message row of each enrollment for this step, created (and committed) before
    any email leaves. Rows that exist already (a retry, a re-run after a crash) are
    returned as they are: the unique (enrollment, step) constraint keeps one."""
    now = contexts[0].now
    fresh = [
        Message(
            enrollment=ctx.enrollment,
            step=step,
            contact=ctx.contact,
            to_email=ctx.contact.email,
            category=step.category,
            created_at=now,
        )
        for ctx in contexts
    ]
    with transaction.atomic():
        Message.objects.bulk_create(fresh, ignore_conflicts=True)
    found = {
        m.enrollment_id: m
        for m in Message.objects.filter(
            step=step, enrollment_id__in=[ctx.enrollment.pk for ctx in contexts]
        )
    }
    for ctx in contexts:
        message = found[ctx.enrollment.pk]
        # Reuse the objects we already hold, so templates and signals need no queries.
        message.enrollment = ctx.enrollment
        message.contact = ctx.contact
    return found


def _send_one(step: EmailStep, ctx: StepContext, message: Message, recorder: _Recorder):
    if message.status in DONE:
        return Next()
    contact = ctx.contact
    if not contact.accepts(step.category):
        reason = "suppressed" if contact.suppressed_at else "unsubscribed"
        recorder.add(
            message, Message.Status.SUPPRESSED, reason, signals.message_suppressed, reason=reason
        )
        return Next()
    try:
        rendered = render_template(
            step.template,
            contact.locale or ctx.snapshot.get("locale"),
            email_context(ctx, message, step.category, coupon=step_coupon(step, message, ctx)),
            cache=ctx.batch.cache,
        )
    except TemplateRenderError as exc:
        error = str(exc)
        recorder.add(
            message, Message.Status.FAILED, error, signals.message_failed, error=error, final=True
        )
        return Fail(f"Step {step}: {exc}")
    message.subject = rendered.subject
    message.language = rendered.language
    message.attempts += 1
    try:
        sent = build_email(message, rendered, step)
        sent.send()
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        # The ESP refuses this address: retrying cannot help, and nor can later steps.
        error = f"{type(exc).__name__}: {exc}"
        recorder.add(
            message, Message.Status.FAILED, error, signals.message_failed, error=error, final=True
        )
        return Exit(f"address refused: {exc}")
    except Exception as exc:
        return _retry_or_give_up(ctx, message, exc, recorder)
    status = getattr(sent, "anymail_status", None)
    esp_id = getattr(status, "message_id", None)
    message.esp_message_id = "" if esp_id is None else str(esp_id)[:255]
    message.esp_name = esp_name()
    message.sent_at = ctx.now
    recorder.add(message, Message.Status.SENT, "", signals.message_sent)
    write_to_mail_dir(message, rendered)
    return Next()


def _retry_or_give_up(
    ctx: StepContext, message: Message, exc: Exception, recorder: _Recorder
) -> StepResult:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning(
        "postpurchase: sending %s failed (attempt %s): %s", message.pk, message.attempts, error
    )
    if message.attempts >= get_setting("MAX_SEND_ATTEMPTS"):
        recorder.add(
            message, Message.Status.FAILED, error, signals.message_failed, error=error, final=True
        )
        return Next()  # give up on this email; the rest of the series still goes out
    recorder.add(
        message, Message.Status.RETRYING, error, signals.message_failed, error=error, final=False
    )
    delay = min(
        get_setting("RETRY_BACKOFF_SECONDS") * 2 ** (message.attempts - 1),
        get_setting("RETRY_BACKOFF_MAX_SECONDS"),
    )
    return Wait(until=ctx.now + timedelta(seconds=delay), error=error)


def step_coupon(step: EmailStep, message: Message, ctx: StepContext):
    """The coupon this message carries when its step has a coupon policy: issued on the
    first attempt, found again on a retry (unique per message and policy)."""
    if not step.coupon_policy_id:
        return None
    from .coupons import issue_for_message

    policy = step.coupon_policy
    if policy.is_active:
        coupon = issue_for_message(policy, message, now=ctx.now)
    else:  # an inactive policy issues nothing new
        coupon = message.coupons.filter(policy=policy).first()
    if coupon is not None:
        coupon.contact = ctx.contact
    return coupon


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
        return get_adapter().recommendations(snapshot, limit=3)

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
        "message_id": str(message.pk),
        "coupon": coupon,
    }


def items_left_to_review(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's items minus those the customer already reviewed (the adapter's
    ``reviewed_skus``); items without a SKU always stay."""
    items = [i for i in snapshot.get("items") or [] if isinstance(i, dict)]
    if not any(i.get("sku") for i in items):
        return items
    reviewed = get_adapter().reviewed_skus(snapshot) or set()
    return [i for i in items if not i.get("sku") or str(i["sku"]) not in reviewed]


def _brand(cache: dict) -> dict[str, Any]:
    """The branding, read once per batch, with a key that changes when it changes (for
    the ``{% brandpart %}`` fragments of the layout)."""
    if "brand" not in cache:
        cache["brand"] = brand()
        cache["brand_key"] = json.dumps(cache["brand"], sort_keys=True, default=str)
    return cache["brand"]


def from_email() -> str:
    return get_setting("FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL


def build_email(message: Message, rendered: RenderedEmail, step: EmailStep) -> AnymailMessage:
    contact = message.contact
    name = one_line(contact.full_name)
    headers = {}
    key_header = get_setting("IDEMPOTENCY_HEADER")
    if key_header:
        headers[key_header] = str(message.pk)
    if message.category == "marketing":
        # RFC 8058 one-click unsubscribe: mail clients POST to this URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(contact.pk, message.pk)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = AnymailMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_email(),
        to=[formataddr((name, contact.email)) if name else contact.email],
        headers=headers,
        metadata={"postpurchase_message": str(message.pk)},
        tags=[f"flow:{step.flow_id}", message.category],
    )
    email.attach_alternative(rendered.html, "text/html")
    return email


@cache
def _esp_name(backend: str) -> str:
    parts = backend.split(".")
    return parts[-2] if len(parts) >= 2 else backend


def esp_name() -> str:
    return _esp_name(settings.EMAIL_BACKEND)[:50]


def write_to_mail_dir(message: Message, rendered: RenderedEmail) -> None:
    """Keep a readable copy of each sent email when ``MAIL_DIR`` is set (demo, dev)."""
    folder = get_setting("MAIL_DIR")
    if not folder:
        return
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        stem = f"{message.sent_at:%Y%m%d-%H%M%S}-{message.pk}"
        (path / f"{stem}.html").write_text(rendered.html, encoding="utf-8")
        (path / f"{stem}.txt").write_text(
            f"To: {message.to_email}\nSubject: {rendered.subject}\n\n{rendered.text}",
            encoding="utf-8",
        )
    except OSError:
        logger.exception("postpurchase: cannot write a copy of %s to %s", message.pk, folder)


def render_message(message: Message) -> RenderedEmail:
    """Render a recorded message again, as its step's template renders it now (for the
    admin). Raises TemplateRenderError if the template is broken."""
    from .engine.context import Batch, StepContext

    step = message.step.get_real_instance() if message.step_id else None
    if step is None or not hasattr(step, "template"):
        raise TemplateRenderError("This message's step no longer exists.")
    ctx = StepContext(enrollment=message.enrollment, step=step, batch=Batch(now=clock.now()))
    coupon = message.coupons.select_related("contact").first()
    return render_template(
        step.template,
        message.language or message.contact.locale,
        email_context(ctx, message, message.category, coupon=coupon),
        cache=ctx.batch.cache,
    )
