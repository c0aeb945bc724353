"""A flow's figures per step and over time, for a date range: what its emails did
(sent, delivered, opened, clicked, bounced, unsubscribed, complained) and earned
(conversions, revenue per currency).

Figures describe the emails **sent** in the range, whatever day the customer acted:
each rate compares what those emails did with how many of them there were. Everything
is read from the roll-ups on ``Message`` and from ``Conversion``, in two GROUP BY
queries (per step and day), never from the MessageEvents (retention purges those).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from postpurchase import clock
from postpurchase.models import Conversion, EmailStep, Flow, Message, Step

#: The range shown when none is asked for: the last 30 days, today included.
DEFAULT_DAYS = 30
#: The longest range one page shows.
MAX_DAYS = 731
#: Up to this many days the chart has a point per day, beyond it one per week.
DAILY_UP_TO = 92


@dataclass
class Figures:
    """What a set of emails did. Counts of emails (``opened``: emails with at least one
    human open) and of events (``opens``: human opens in all)."""

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int = 0
    opens: int = 0
    clicked: int = 0
    clicks: int = 0
    machine_opens: int = 0
    machine_clicks: int = 0
    unsubscribed: int = 0
    complained: int = 0
    conversions: int = 0
    goals: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        for f in fields(self):
            if f.name != "revenue":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + amount

    @property
    def recipients(self) -> int:
        """Emails that reached someone as far as we know: sent, less those that
        bounced. The rates' base (not every ESP reports deliveries)."""
        return max(self.sent - self.bounced, 0)

    @property
    def open_rate(self) -> float | None:
        return _ratio(self.opened, self.recipients)

    @property
    def click_rate(self) -> float | None:
        return _ratio(self.clicked, self.recipients)

    @property
    def click_to_open(self) -> float | None:
        return _ratio(self.clicked, self.opened)

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.conversions, self.recipients)

    @property
    def revenue_per_recipient(self) -> dict[str, Decimal]:
        if not self.recipients:
            return {}
        return {c: (a / self.recipients).quantize(Decimal("0.01")) for c, a in self.revenue.items()}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class StepRow:
    #: None for emails of steps deleted since.
    step: Step | None
    label: str
    figures: Figures


@dataclass
class Report:
    flow: Flow
    start: dt.date
    end: dt.date  # included
    #: "day" or "week": what one point of ``series`` covers.
    bucket: str
    total: Figures
    steps: list[StepRow]
    #: (first day of the bucket, figures), every bucket of the range, empty ones too.
    series: list[tuple[dt.date, Figures]]

    @property
    def currencies(self) -> list[str]:
        return sorted(self.total.revenue)


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate(clock.now())
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def parse_range(params: Any, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The (start, end) dates asked for in ``params`` ("start", "end", ISO dates), the
    default range for what is missing or unreadable; swapped if reversed, and at most
    MAX_DAYS long (counted back from the end)."""
    start, end = default_range(today)
    given_start = _date(params.get("start"))
    given_end = _date(params.get("end"))
    if given_end:
        end = given_end
        if not given_start:
            start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if given_start:
        start = given_start
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - dt.timedelta(days=MAX_DAYS - 1)
    return start, end


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def bucket_for(start: dt.date, end: dt.date) -> str:
    return "day" if (end - start).days < DAILY_UP_TO else "week"


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if bucket == "week" else day


def _bounds(start: dt.date, end: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return begin, stop


#: PostgreSQL: memory the GROUP BY may plan with. Its estimate of the (step, day)
#: groups is far too high (it cannot tell how many days date_trunc leaves), so with the
#: default 4 MB it sorts the rows on disk; this lets it hash them (a few hundred groups
#: really, a few kB).
GROUPING_WORK_MEM = "32MB"


@contextmanager
def grouping_memory() -> Iterator[None]:
    """On PostgreSQL, run the block in a transaction with GROUPING_WORK_MEM."""
    connection = connections[router.db_for_read(Message)]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{GROUPING_WORK_MEM}'")
        yield


#: The message roll-ups, summed per (step, bucket). COUNT of a column counts the rows
#: where it is set; each column read is in the (step, sent_at) index, so PostgreSQL
#: answers from the index alone.
_MESSAGE_FIGURES = {
    "sent": Count("sent_at"),
    "delivered": Count("delivered_at"),
    "bounced": Count("bounced_at"),
    "opened": Count("opened_at"),
    "opens": Sum("opens"),
    "clicked": Count("clicked_at"),
    "clicks": Sum("clicks"),
    "machine_opens": Sum("machine_opens"),
    "machine_clicks": Sum("machine_clicks"),
    "unsubscribed": Count("unsubscribed_at"),
    "complained": Count("complained_at"),
}


def figures_by_step_and_bucket(
    flow: Flow,
    step_ids: list[int],
    start: dt.date | None,
    end: dt.date | None,
    bucket: str = "day",
    tz: dt.tzinfo | None = None,
) -> dict[tuple[int | None, dt.date | None], Figures]:
    """{(step id, bucket's first day): Figures} for the flow's emails sent from
    ``start`` to ``end`` (both None: all time, and the bucket key is None).

    ``step_ids`` are the flow's steps: their emails are read by step (the index on
    (step, sent_at)), with no join of the enrollments; the emails of steps deleted since
    (step NULL) are found through their enrollment and keyed None."""
    tz = tz or timezone.get_current_timezone()
    of_steps = Message.objects.filter(step_id__in=step_ids, sent_at__isnull=False)
    orphans = Message.objects.filter(
        step__isnull=True, enrollment__flow_id=flow.pk, sent_at__isnull=False
    )
    conversions = Conversion.objects.filter(flow_id=flow.pk)
    keys = ["step_id"]
    if start is not None and end is not None:
        begin, stop = _bounds(start, end, tz)
        of_steps = of_steps.filter(sent_at__gte=begin, sent_at__lt=stop)
        orphans = orphans.filter(sent_at__gte=begin, sent_at__lt=stop)
        conversions = conversions.filter(sent_at__gte=begin, sent_at__lt=stop)
        of_steps = of_steps.annotate(bucket=Trunc("sent_at", bucket, tzinfo=tz))
        orphans = orphans.annotate(bucket=Trunc("sent_at", bucket, tzinfo=tz))
        conversions = conversions.annotate(bucket=Trunc("sent_at", bucket, tzinfo=tz))
        keys.append("bucket")
    found: dict[tuple[int | None, dt.date | None], Figures] = defaultdict(Figures)
    with grouping_memory():
        message_rows = [
            row
            for messages in (of_steps, orphans)
            for row in messages.order_by().values(*keys).annotate(**_MESSAGE_FIGURES)
        ]
    for row in message_rows:
        figures = found[(row["step_id"], _day(row.get("bucket"), tz))]
        for name in _MESSAGE_FIGURES:
            setattr(figures, name, getattr(figures, name) + (row[name] or 0))
    rows = (
        conversions.order_by()
        .values(*keys, "kind", "currency")
        .annotate(n=Count("pk"), revenue=Sum("revenue"))
    )
    for row in rows:
        step_id = row["step_id"] if row["step_id"] in step_ids else None
        figures = found[(step_id, _day(row.get("bucket"), tz))]
        if row["kind"] == Conversion.Kind.GOAL:
            figures.goals += row["n"]
            continue
        figures.conversions += row["n"]
        if row["revenue"] is not None:
            currency = row["currency"] or ""
            figures.revenue[currency] = figures.revenue.get(currency, Decimal(0)) + row["revenue"]
    return dict(found)


def _day(value: Any, tz: dt.tzinfo) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, tz).date() if timezone.is_aware(value) else value.date()
    return value


def step_label(step: Step | None) -> str:
    if step is None:
        return _("Deleted steps")
    name = step.name or str(type(step)._meta.verbose_name).capitalize()
    return f"{step.position}. {name}"


def flow_report(flow: Flow, start: dt.date, end: dt.date, tz: dt.tzinfo | None = None) -> Report:
    """The flow's figures from ``start`` to ``end`` (dates, both included, in ``tz``,
    the current time zone by default): in all, per email step, and per day or week."""
    tz = tz or timezone.get_current_timezone()
    bucket = bucket_for(start, end)
    steps = list(Step.objects.filter(flow=flow).order_by("position", "id"))
    found = figures_by_step_and_bucket(flow, [s.pk for s in steps], start, end, bucket, tz)
    per_step: dict[int | None, Figures] = defaultdict(Figures)
    per_bucket: dict[dt.date, Figures] = defaultdict(Figures)
    total = Figures()
    for (step_id, day), figures in found.items():
        per_step[step_id].add(figures)
        per_bucket[day].add(figures)
        total.add(figures)
    rows = [
        StepRow(step, step_label(step), per_step.get(step.pk, Figures()))
        for step in steps
        if isinstance(step, EmailStep) or step.pk in per_step
    ]
    known = {s.pk for s in steps}
    orphans = Figures()
    for step_id, figures in per_step.items():
        if step_id not in known:
            orphans.add(figures)
    if orphans.sent or orphans.conversions or orphans.goals:
        rows.append(StepRow(None, step_label(None), orphans))
    series = []
    day = bucket_start(start, bucket)
    step = dt.timedelta(days=7 if bucket == "week" else 1)
    while day <= end:
        series.append((day, per_bucket.get(day, Figures())))
        day += step
    return Report(flow, start, end, bucket, total, rows, series)


def step_figures(flow: Flow, start: dt.date, end: dt.date) -> dict[int | None, Figures]:
    """Each step's figures from ``start`` to ``end`` (for the flow diagram)."""
    step_ids = list(Step.objects.filter(flow=flow).values_list("pk", flat=True))
    found: dict[int | None, Figures] = defaultdict(Figures)
    for (step_id, _day), figures in figures_by_step_and_bucket(flow, step_ids, start, end).items():
        found[step_id].add(figures)
    return dict(found)
