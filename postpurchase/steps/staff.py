"""``NotifyStaffStep``: an email to the shop's team about an order.

Guarded by a :class:`~postpurchase.models.StepRecord` (see :mod:`postpurchase.steps.records`),
so running the step twice for the same visit does not email twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.template import Context, TemplateSyntaxError
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from postpurchase.conf import get_setting, site_url
from postpurchase.delivery import from_email
from postpurchase.delivery.compose import idempotency_headers
from postpurchase.delivery.mail_dir import copy_stem, write_mail_copy
from postpurchase.email.rendering import get_engine, one_line
from postpurchase.models import NotifyStaffStep, StepRecord
from postpurchase.models.steps import register_behaviour
from postpurchase.results import Next, StepResult
from postpurchase.retries import retry_send, send_given_up
from postpurchase.steps.records import save_record, step_record

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext

logger = logging.getLogger("postpurchase.delivery")


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

    record, _created = step_record(ctx)
    if record.status in (StepRecord.Status.DONE, StepRecord.Status.FAILED):
        return Next()
    recipients = staff_recipients(step)
    if not recipients:
        save_record(record, StepRecord.Status.FAILED, error="no recipients")
        logger.error("postpurchase: %s has no recipients and STAFF_EMAILS is empty", step)
        return Next()  # a missing address must not hold up the customer's flow
    try:
        subject, body = render_staff_email(step, ctx)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        save_record(record, StepRecord.Status.FAILED, error=error)
        logger.error("postpurchase: staff email of %s does not render: %s", step, error)
        return Next()
    headers = idempotency_headers(record.pk)
    record.attempts += 1
    try:
        EmailMessage(
            subject=subject, body=body, from_email=from_email(), to=recipients, headers=headers
        ).send()
    except Exception as exc:
        return _retry_or_give_up(ctx, record, exc)
    copy = write_mail_copy(
        copy_stem(ctx.now, "staff", record.pk), ", ".join(recipients), subject, body
    )
    detail = {"to": recipients, "subject": subject, "sent_at": ctx.now.isoformat()}
    if copy:
        detail["mail_copy"] = copy
    save_record(record, StepRecord.Status.DONE, detail=detail)
    return Next()


def _retry_or_give_up(ctx: StepContext, record: StepRecord, exc: Exception) -> StepResult:
    """The delivery retry policy: MAX_SEND_ATTEMPTS in all, backoff doubling from
    RETRY_BACKOFF_SECONDS up to RETRY_BACKOFF_MAX_SECONDS."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning(
        "postpurchase: staff email %s failed (attempt %s): %s", record.pk, record.attempts, error
    )
    if send_given_up(record.attempts):
        save_record(record, StepRecord.Status.FAILED, error=error)
        return Next()  # give up on this notification; the customer's flow goes on
    save_record(record, StepRecord.Status.RETRYING, error=error)
    return retry_send(record.attempts, ctx.now, error)


register_behaviour(NotifyStaffStep, execute=notify_staff, clean=validate_notify_staff)
