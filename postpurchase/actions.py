"""The work of the steps with side effects outside email to customers:
``NotifyStaffStep`` (an email to the shop's team) and ``SignalStep`` (a signal for shop
code).

Both guard their side effect with a :class:`~postpurchase.models.StepRecord`, unique per
(enrollment, step, visit) and committed before acting, so running the step twice for the
same visit (a retry, a lease takeover after a crash) does not act twice, while a flow
that loops back to the step acts once per visit.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template import Context, TemplateSyntaxError
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from . import signals
from .conf import get_setting, site_url
from .models import StepRecord
from .rendering import get_engine, one_line
from .results import Next, StepResult, Wait
from .retries import backoff

if TYPE_CHECKING:
    from .engine.context import StepContext
    from .models import NotifyStaffStep, SignalStep

logger = logging.getLogger("postpurchase.delivery")


# --- the guard -----------------------------------------------------------------------


def step_record(ctx: StepContext) -> tuple[StepRecord, bool]:
    """This (enrollment, step, visit)'s record, created and committed if it is new; True
    if this call created it. Two workers racing here get one row: the unique constraint
    makes the loser's insert fail and ``get_or_create`` then returns the winner's."""
    with transaction.atomic():
        return StepRecord.objects.get_or_create(
            enrollment=ctx.enrollment,
            step=ctx.step,
            visit=ctx.visit,
            defaults={"created_at": ctx.now},
        )


# --- NotifyStaffStep ------------------------------------------------------------------


def split_addresses(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def validate_notify_staff(step: NotifyStaffStep) -> None:
    """Raise ValidationError (keyed by field) for bad addresses or template syntax."""
    errors: dict[str, list[str]] = {}
    addresses = split_addresses(step.recipients)
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            errors.setdefault("recipients", []).append(
                _("“%(address)s” is not an email address.") % {"address": address}
            )
    if not addresses and not get_setting("STAFF_EMAILS"):
        errors.setdefault("recipients", []).append(
            _('Enter at least one address, or set POSTPURCHASE["STAFF_EMAILS"].')
        )
    engine = get_engine(autoescape=False)
    for field in ("subject", "body"):
        try:
            engine.from_string(getattr(step, field) or "")
        except TemplateSyntaxError as exc:
            errors.setdefault(field, []).append(_("Template error: %(error)s") % {"error": exc})
    if errors:
        raise ValidationError(errors)
    step.recipients = ", ".join(addresses)


def staff_recipients(step: NotifyStaffStep) -> list[str]:
    return split_addresses(step.recipients) or list(get_setting("STAFF_EMAILS"))


def admin_url(enrollment_id: int) -> str:
    """Absolute link to the enrollment's admin page ("" if the admin is not routed)."""
    try:
        path = reverse("admin:postpurchase_enrollment_change", args=[enrollment_id])
    except NoReverseMatch:
        return ""
    return site_url() + path


def staff_context(ctx: StepContext) -> dict[str, Any]:
    """What a staff email's subject and body see."""
    enrollment = ctx.enrollment
    trigger = enrollment.trigger_event
    return {
        "order": ctx.snapshot,
        "contact": ctx.contact,
        "enrollment": enrollment,
        "flow": ctx.flow,
        "step": ctx.step,
        "event": dict(trigger.data) if trigger is not None else {},
        "admin_url": admin_url(enrollment.pk),
        "site_url": site_url(),
    }


def render_staff_email(step: NotifyStaffStep, ctx: StepContext) -> tuple[str, str]:
    """(subject, body) as plain text: autoescape off, the subject on one line."""
    engine = get_engine(autoescape=False)
    values = staff_context(ctx)
    # Context() escapes by default whatever the engine says; plain text must not.
    subject = engine.from_string(step.subject).render(Context(values, autoescape=False))
    body = engine.from_string(step.body).render(Context(values, autoescape=False))
    return one_line(subject)[:300], body


def notify_staff(step: NotifyStaffStep, ctx: StepContext) -> StepResult:
    from .delivery import from_email

    record, _created = step_record(ctx)
    if record.status in (StepRecord.Status.DONE, StepRecord.Status.FAILED):
        return Next()
    recipients = staff_recipients(step)
    if not recipients:
        _save(record, StepRecord.Status.FAILED, error="no recipients")
        logger.error("postpurchase: %s has no recipients and STAFF_EMAILS is empty", step)
        return Next()  # a missing address must not hold up the customer's flow
    try:
        subject, body = render_staff_email(step, ctx)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        _save(record, StepRecord.Status.FAILED, error=error)
        logger.error("postpurchase: staff email of %s does not render: %s", step, error)
        return Next()
    headers = {}
    key_header = get_setting("IDEMPOTENCY_HEADER")
    if key_header:
        headers[key_header] = str(record.pk)
    record.attempts += 1
    try:
        EmailMessage(
            subject=subject, body=body, from_email=from_email(), to=recipients, headers=headers
        ).send()
    except Exception as exc:
        return _retry_or_give_up(ctx, record, exc)
    _save(
        record,
        StepRecord.Status.DONE,
        detail={"to": recipients, "subject": subject, "sent_at": ctx.now.isoformat()},
    )
    return Next()


def _retry_or_give_up(ctx: StepContext, record: StepRecord, exc: Exception) -> StepResult:
    """The delivery retry policy: MAX_SEND_ATTEMPTS in all, backoff doubling from
    RETRY_BACKOFF_SECONDS up to RETRY_BACKOFF_MAX_SECONDS."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning(
        "postpurchase: staff email %s failed (attempt %s): %s", record.pk, record.attempts, error
    )
    if record.attempts >= get_setting("MAX_SEND_ATTEMPTS"):
        _save(record, StepRecord.Status.FAILED, error=error)
        return Next()  # give up on this notification; the customer's flow goes on
    _save(record, StepRecord.Status.RETRYING, error=error)
    return Wait(until=backoff(record.attempts, ctx.now), error=error)


def _save(
    record: StepRecord, status: str, *, error: str = "", detail: dict[str, Any] | None = None
) -> None:
    record.status = status
    record.error = error[:4000]
    if detail is not None:
        record.detail = detail
    record.save(update_fields=["status", "error", "detail", "attempts", "updated_at"])


# --- SignalStep -----------------------------------------------------------------------


def fire_signal(step: SignalStep, ctx: StepContext) -> StepResult:
    """Send ``step_action`` once per (enrollment, step, visit): at most once, since the
    record is committed first and a re-run that finds it does not send again."""
    record, created = step_record(ctx)
    if not created:
        return Next()
    signals.emit(
        signals.step_action,
        type(step),
        action=step.action,
        enrollment=ctx.enrollment,
        contact=ctx.contact,
        snapshot=ctx.snapshot,
        step=step,
        visit=record.visit,
    )
    _save(record, StepRecord.Status.DONE, detail={"action": step.action})
    return Next()
