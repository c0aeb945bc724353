"""What the health monitor counts, per hour and over a window.

Each figure is read from a table the app keeps (the Message roll-ups survive the
retention purge of MessageEvents) through an indexed time column:

- **orders**: ``order_placed`` events, by the order's time (``Event.occurred_at``).
- **enrollments**: enrollments started by the hour's events (any trigger), counted
  by their trigger event's time; joined through the ``trigger_event`` foreign key, so
  the enrollments table needs no extra index.
- **emails** / **first emails**: messages by the time they were made
  (``Message.created_at``), which is when the step first tried to send them; *first
  emails* are the emails of a flow's first step when that step is an email (the
  thank-you or order confirmation that should go out right after the order).
- **failed**, **bounced**, **complained**: of the hour's emails, those given up
  (``failed``), those the ESP later reported as bounced or marked as spam
  (``bounced_at`` / ``complained_at`` set); a bounce counts in the hour of its email.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from postpurchase.models import EmailStep, Enrollment, Event, Flow, Message, Step

ORDER_EVENT = "order_placed"

#: The figures of an hour, in the order the command and the docs show them.
FIGURES = ("orders", "enrollments", "first_emails", "emails", "failed", "bounced", "complained")


def first_email_steps(flows: Any = None) -> dict[int, int]:
    """{step id: flow id} of the flows (default: the live ones) whose first step is an
    email: the emails that should follow an enrollment within minutes."""
    if flows is None:
        flows = Flow.objects.filter(status=Flow.Status.LIVE)
    first: dict[int, int] = {}
    rows = (
        Step.objects.non_polymorphic()
        .filter(flow__in=flows)
        .order_by("flow_id", "-position", "-id")
        .values_list("flow_id", "pk")
    )
    for flow_id, step_id in rows:
        first[flow_id] = step_id  # the last one written per flow is its first step
    emails = EmailStep.objects.filter(pk__in=first.values()).values_list("pk", "flow_id")
    return dict(emails)


def hourly(now: datetime, hours: int = 24) -> list[dict[str, Any]]:
    """The figures of each of the last ``hours`` hours (the current one included, so far),
    oldest first: [{"hour": datetime, "orders": n, ...}, ...]."""
    # Hours in UTC: an hour of a zone with a half-hour offset would straddle two.
    end_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end_hour - timedelta(hours=hours - 1)
    rows: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))

    orders = (
        Event.objects.filter(name=ORDER_EVENT, occurred_at__gte=start, occurred_at__lte=now)
        .annotate(hour=TruncHour("occurred_at", tzinfo=UTC))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in orders:
        rows[row["hour"]]["orders"] = row["n"]

    enrollments = (
        Enrollment.objects.filter(
            trigger_event__occurred_at__gte=start, trigger_event__occurred_at__lte=now
        )
        .annotate(hour=TruncHour("trigger_event__occurred_at", tzinfo=UTC))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in enrollments:
        rows[row["hour"]]["enrollments"] = row["n"]

    firsts = list(first_email_steps())
    sent = Q(status=Message.Status.SENT)
    emails = (
        Message.objects.filter(created_at__gte=start, created_at__lte=now)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour")
        .annotate(
            emails=Count("pk", filter=sent),
            first_emails=Count("pk", filter=sent & Q(step_id__in=firsts, visit=1)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
            complained=Count("pk", filter=Q(complained_at__isnull=False)),
        )
        .order_by()
    )
    for row in emails:
        hour = row.pop("hour")
        rows[hour].update(row)

    return [
        {"hour": start + timedelta(hours=i), **rows[start + timedelta(hours=i)]}
        for i in range(hours)
    ]
