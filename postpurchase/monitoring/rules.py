"""The divergence rules: each reads a few indexed counts and returns a Finding when
the figures disagree, or None. Thresholds come from ``POSTPURCHASE["HEALTH"]``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from postpurchase.conf import health_setting
from postpurchase.models import Enrollment, Event, Flow, Incident, Message
from postpurchase.monitoring.figures import ORDER_EVENT, first_email_steps

#: The states of an email that count as failing: given up, waiting to retry after an
#: error, or lost with a dead worker. Sent ones count as succeeded; queued, sending and
#: suppressed ones have no outcome yet (or need none).
FAILING = (Message.Status.FAILED, Message.Status.RETRYING, Message.Status.UNKNOWN)


@dataclass(frozen=True)
class Finding:
    kind: str
    #: JSON-safe figures the alert shows (counts, the window, the threshold).
    details: dict[str, Any] = field(default_factory=dict)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _none_followed(window: QuerySet, followers: QuerySet) -> int:
    """How many rows ``window`` has if not one of them has a row of ``followers``
    (correlated on ``OuterRef("pk")``), else 0.

    EXISTS per row, walked from the window's few rows: ``followers.filter(x__in=window)
    .exists()`` lets PostgreSQL answer its ``LIMIT 1`` by scanning the big table
    (3 s at a million messages, see docs/benchmarks.md)."""
    if window.filter(Exists(followers)).exists():
        return 0
    return window.count()


def orders_without_enrollments(now: datetime) -> Finding | None:
    """Orders arrive but start no enrollment, although a live flow without a trigger
    filter starts on every order: enrolling is broken."""
    # Since when (the flow's last save: going live or resuming sets it): orders placed
    # before, while it was a draft or paused, rightly started nothing.
    live_since = Flow.objects.filter(
        status=Flow.Status.LIVE, trigger=ORDER_EVENT, filter_condition=""
    ).aggregate(since=Min("updated_at"))["since"]
    if live_since is None:
        return None
    window = health_setting("WINDOW_MINUTES")
    orders = Event.objects.filter(
        name=ORDER_EVENT,
        occurred_at__gt=max(now - timedelta(minutes=window), live_since),
        occurred_at__lte=now,
    )
    count = _none_followed(orders, Enrollment.objects.filter(trigger_event=OuterRef("pk")))
    if count < health_setting("MIN_ORDERS"):
        return None
    return Finding(
        Incident.Kind.ORDERS_WITHOUT_ENROLLMENTS, {"orders": count, "window_minutes": window}
    )


def enrollments_without_sends(now: datetime) -> Finding | None:
    """Enrollments of flows that open with an email, old enough to have it, and none of
    them has one: the scheduler or delivery is not running."""
    window, grace = health_setting("WINDOW_MINUTES"), health_setting("GRACE_MINUTES")
    until = now - timedelta(minutes=grace)
    # Flows live (unsaved) for the grace period at least: resuming a paused flow gives
    # the scheduler its grace for the enrollments that waited.
    live = Flow.objects.filter(status=Flow.Status.LIVE, updated_at__lte=until)
    flows = set(first_email_steps(live).values())
    if not flows:
        return None
    enrollments = Enrollment.objects.filter(
        flow_id__in=flows,
        trigger_event__occurred_at__gt=until - timedelta(minutes=window),
        trigger_event__occurred_at__lte=until,
    )
    count = _none_followed(enrollments, Message.objects.filter(enrollment=OuterRef("pk")))
    if count < health_setting("MIN_ENROLLMENTS"):
        return None
    return Finding(
        Incident.Kind.ENROLLMENTS_WITHOUT_SENDS,
        {"enrollments": count, "window_minutes": window, "grace_minutes": grace},
    )


def _window_emails(now: datetime, minutes: int):
    return Message.objects.filter(
        created_at__gt=now - timedelta(minutes=minutes), created_at__lte=now
    )


def failure_rate(now: datetime) -> Finding | None:
    """Too many of the window's emails fail (ESP down or refusing, a broken template)."""
    window = health_setting("WINDOW_MINUTES")
    counts = _window_emails(now, window).aggregate(
        failing=Count("pk", filter=Q(status__in=FAILING)),
        sent=Count("pk", filter=Q(status=Message.Status.SENT)),
    )
    total = counts["failing"] + counts["sent"]
    threshold = health_setting("FAILURE_RATE")
    rate = _share(counts["failing"], total)
    if total < health_setting("MIN_FAILURE_VOLUME") or rate <= threshold:
        return None
    return Finding(
        Incident.Kind.FAILURE_RATE,
        {
            "failing": counts["failing"],
            "total": total,
            "rate": rate,
            "threshold": threshold,
            "window_minutes": window,
        },
    )


def bounce_rate(now: datetime) -> Finding | None:
    """Too many of the window's sent emails bounced (a bad list, a typo in a field)."""
    window = health_setting("WINDOW_MINUTES")
    counts = (
        _window_emails(now, window)
        .filter(status=Message.Status.SENT)
        .aggregate(sent=Count("pk"), bounced=Count("pk", filter=Q(bounced_at__isnull=False)))
    )
    threshold = health_setting("BOUNCE_RATE")
    rate = _share(counts["bounced"], counts["sent"])
    if counts["sent"] < health_setting("MIN_BOUNCE_VOLUME") or rate <= threshold:
        return None
    return Finding(
        Incident.Kind.BOUNCE_RATE,
        {**counts, "rate": rate, "threshold": threshold, "window_minutes": window},
    )


def backlog(now: datetime) -> Finding | None:
    """Enrollments of live flows due long ago and not advanced: no scheduler runs (or
    it cannot keep up)."""
    minutes = health_setting("BACKLOG_MINUTES")
    cutoff = now - timedelta(minutes=minutes)
    stalled = Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE,
        due_at__lt=cutoff,
        flow__status=Flow.Status.LIVE,
        # Due for that long while their flow was live: a flow resumed (or saved) since
        # gives the scheduler its turn first.
        flow__updated_at__lt=cutoff,
    ).aggregate(count=Count("pk"), oldest=Min("due_at"))
    if not stalled["count"]:
        return None
    return Finding(
        Incident.Kind.BACKLOG,
        {
            "count": stalled["count"],
            "oldest_due_at": stalled["oldest"].isoformat(),
            "backlog_minutes": minutes,
        },
    )


def complaint_rate(now: datetime) -> Finding | None:
    """Of the emails sent in the last 24 hours, too many were marked as spam (Gmail,
    Yahoo and Microsoft want under 0.3 %)."""
    counts = (
        _window_emails(now, 24 * 60)
        .filter(status=Message.Status.SENT)
        .aggregate(sent=Count("pk"), complaints=Count("pk", filter=Q(complained_at__isnull=False)))
    )
    threshold = health_setting("COMPLAINT_RATE")
    rate = _share(counts["complaints"], counts["sent"])
    if counts["sent"] < health_setting("MIN_COMPLAINT_VOLUME") or rate <= threshold:
        return None
    return Finding(Incident.Kind.COMPLAINT_RATE, {**counts, "rate": rate, "threshold": threshold})


#: Every rule, in the order alerts list them.
RULES: list[Callable[[datetime], Finding | None]] = [
    orders_without_enrollments,
    enrollments_without_sends,
    failure_rate,
    bounce_rate,
    backlog,
    complaint_rate,
]


def check(now: datetime) -> list[Finding]:
    """What every rule finds wrong at ``now`` (nothing recorded)."""
    return [finding for rule in RULES if (finding := rule(now)) is not None]
