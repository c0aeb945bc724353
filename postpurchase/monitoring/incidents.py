"""Incidents: what the rules found, opened once, mailed to staff once, resolved when a
check finds the figures healthy again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from postpurchase import signals
from postpurchase.conf import brand, get_setting, health_setting, site_url
from postpurchase.delivery import from_email
from postpurchase.delivery.mail_dir import copy_stem, write_mail_copy
from postpurchase.models import Incident
from postpurchase.monitoring.complaints import pause_marketing_flows
from postpurchase.monitoring.rules import Finding

logger = logging.getLogger("postpurchase.monitoring")


def open_incidents() -> list[Incident]:
    """The open incidents, oldest first: one small indexed query (the admin banner)."""
    return list(Incident.objects.filter(resolved_at__isnull=True).order_by("opened_at", "pk"))


def _percent(share: float) -> str:
    return f"{share * 100:.2f} %"


class _Figures(dict):
    """An incident's figures for its sentence; a figure missing from ``details`` (a row
    written by an older version) reads as 0 rather than breaking the admin banner."""

    def __missing__(self, key: str) -> int:
        return 0


def _figures(details: dict) -> _Figures:
    return _Figures(
        details,
        minutes=details.get("window_minutes", details.get("backlog_minutes", 0)),
        grace=details.get("grace_minutes", 0),
        oldest=details.get("oldest_due_at", ""),
        rate=_percent(details.get("rate", 0)),
        threshold=_percent(details.get("threshold", 0)),
    )


#: What each kind of incident tells staff, with its figures.
SENTENCES = {
    Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS: gettext_lazy(
        "Orders in the last %(minutes)d min.: %(orders)d, but none of them started an "
        "enrollment, although a live flow starts on every order. Check the flow's "
        "re-entry setting and the log for errors when orders are tracked."
    ),
    Incident.Kind.ENROLLMENTS_WITHOUT_SENDS: gettext_lazy(
        "Enrollments of flows that open with an email: %(enrollments)d in %(minutes)d "
        "min., and none of them has an email after %(grace)d min. Is the scheduler "
        "running, and can it reach the ESP?"
    ),
    Incident.Kind.FAILURE_RATE: gettext_lazy(
        "Emails of the last %(minutes)d min. failing or waiting to retry: %(failing)d of "
        "%(total)d (%(rate)s; the threshold is %(threshold)s). See the failed messages' "
        "errors."
    ),
    Incident.Kind.BOUNCE_RATE: gettext_lazy(
        "Emails sent in the last %(minutes)d min. that bounced: %(bounced)d of %(sent)d "
        "(%(rate)s; the threshold is %(threshold)s)."
    ),
    Incident.Kind.BACKLOG: gettext_lazy(
        "Enrollments of live flows due more than %(minutes)d min. ago and not advanced: "
        "%(count)d (the oldest was due at %(oldest)s). Is the scheduler (or the Celery "
        "worker and beat) running?"
    ),
    Incident.Kind.COMPLAINT_RATE: gettext_lazy(
        "Spam complaints about the emails sent in the last 24 hours: %(complaints)d of "
        "%(sent)d (%(rate)s; the threshold is %(threshold)s)."
    ),
}


def describe(incident: Incident) -> str:
    """One or two sentences for staff: what diverged, with the figures."""
    sentence = SENTENCES.get(incident.kind)
    if sentence is None:
        return str(incident)
    text = str(sentence) % _figures(incident.details)
    paused = ", ".join(f["name"] for f in incident.details.get("paused", []))
    kept = ", ".join(f["name"] for f in incident.details.get("kept", []))
    if paused:
        text += " " + _("Marketing flows paused: %(flows)s.") % {"flows": paused}
    if kept:
        text += " " + _("Not paused, because they send transactional email: %(flows)s.") % {
            "flows": kept
        }
    return text


def record(findings: list[Finding], now: datetime) -> list[Incident]:
    """Open an incident for each new finding, update those still firing, resolve those
    no longer found, then mail staff about open incidents not mailed yet. Returns the
    incidents open afterwards."""
    firing = {finding.kind: finding for finding in findings}
    still_open: list[Incident] = []
    for incident in open_incidents():
        finding = firing.pop(incident.kind, None)
        if finding is None:
            _resolve(incident, now)
        else:
            incident.last_seen_at = now
            incident.details = {**incident.details, **finding.details}
            incident.save(update_fields=["last_seen_at", "details"])
            still_open.append(incident)
    for finding in firing.values():
        incident = _open(finding, now)
        if incident is not None:
            still_open.append(incident)
    for incident in still_open:
        if incident.notified_at is None:
            notify_staff(incident, now)
    return still_open


def _open(finding: Finding, now: datetime) -> Incident | None:
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                kind=finding.kind, opened_at=now, last_seen_at=now, details=finding.details
            )
            if finding.kind == Incident.Kind.COMPLAINT_RATE and health_setting(
                "PAUSE_ON_COMPLAINTS"
            ):
                incident.details = {**incident.details, **pause_marketing_flows()}
                incident.save(update_fields=["details"])
            signals.emit(signals.health_alert, Incident, incident=incident)
    except IntegrityError:
        # Another scheduler opened the same kind a moment ago: that one alerts.
        return None
    logger.error("postpurchase: health incident %s opened: %s", incident.pk, incident.kind)
    return incident


def _resolve(incident: Incident, now: datetime) -> None:
    with transaction.atomic():
        changed = Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(
            resolved_at=now
        )
        if changed:
            incident.resolved_at = now
            signals.emit(signals.health_resolved, Incident, incident=incident)
    if changed:
        logger.warning("postpurchase: health incident %s resolved", incident.pk)


def staff_addresses() -> list[str]:
    """POSTPURCHASE["STAFF_EMAILS"], else the addresses in Django's ADMINS."""
    staff = list(get_setting("STAFF_EMAILS"))
    if staff:
        return staff
    return [entry[1] if isinstance(entry, list | tuple) else entry for entry in settings.ADMINS]


def incident_url(incident: Incident) -> str:
    try:
        path = reverse("admin:postpurchase_incident_change", args=[incident.pk])
    except NoReverseMatch:
        return ""
    return site_url() + path


def mailed_lately(incident: Incident, now: datetime) -> bool:
    """Were staff mailed about another incident of the same kind in the last
    WINDOW_MINUTES? A rule hovering around its minimum opens and resolves at every
    check; one email per window is enough (the admin banner shows the rest)."""
    since = now - timedelta(minutes=health_setting("WINDOW_MINUTES"))
    return (
        Incident.objects.filter(kind=incident.kind, notified_at__gt=since)
        .exclude(pk=incident.pk)
        .exists()
    )


def notify_staff(incident: Incident, now: datetime) -> bool:
    """Mail staff about ``incident`` once. The incident is marked first (a conditional
    update, so two schedulers cannot both mail); a failed send clears the mark and the
    next check tries again. Within WINDOW_MINUTES of an email about the same kind it
    waits (the next checks try again): an incident that resolves meanwhile is never
    mailed."""
    recipients = staff_addresses()
    if not recipients:
        logger.error(
            "postpurchase: health incident %s: no STAFF_EMAILS or ADMINS to mail", incident.pk
        )
        return False
    if mailed_lately(incident, now):
        logger.info(
            "postpurchase: health incident %s: staff mailed about its kind lately", incident.pk
        )
        return False
    claimed = Incident.objects.filter(pk=incident.pk, notified_at__isnull=True).update(
        notified_at=now
    )
    if not claimed:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(shop)s: post-purchase emails need attention: %(problem)s") % {
            "shop": brand()["name"],
            "problem": incident.get_kind_display(),
        }
        lines = [
            describe(incident),
            "",
            _("Noticed at: %(time)s") % {"time": incident.opened_at.isoformat()},
        ]
        url = incident_url(incident)
        if url:
            lines.append(_("Details: %(url)s") % {"url": url})
        lines += [
            "",
            _(
                "This is the only email about this incident; the admin shows it until a "
                "check finds the figures healthy again."
            ),
        ]
    body = "\n".join(lines)
    try:
        EmailMessage(subject=subject, body=body, from_email=from_email(), to=recipients).send()
    except Exception:
        Incident.objects.filter(pk=incident.pk).update(notified_at=None)
        logger.exception("postpurchase: health incident %s: staff email failed", incident.pk)
        return False
    incident.notified_at = now
    write_mail_copy(copy_stem(now, "health", incident.pk), ", ".join(recipients), subject, body)
    return True
