"""The built-in date triggers' finders (see the package docstring for the contract).

Each finder narrows the candidates in SQL with a window in UTC wide enough for every
time zone (a day either side) and the catch-up days, then decides in Python, in each
contact's time zone, whose moment is due. Candidates are read ``batch_size`` contacts
at a time, in contact id order, after the cursor.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from django.db.models import Exists, Max, Min, OuterRef, Q

from postpurchase.conf import get_setting
from postpurchase.models import Contact, Coupon, CouponRedemption, Event
from postpurchase.replenishment import finder as replenishment_finder
from postpurchase.windows import zone

WINBACK = "winback_due"
ORDER_FOLLOWUP = "order_followup_due"
BIRTHDAY = "birthday"
ANNIVERSARY = "first_order_anniversary"
COUPON_EXPIRING = "coupon_expiring"
REPLENISHMENT = "replenishment_due"
ORDER_PLACED = "order_placed"
#: SQL windows reach this far beyond the exact moment, for the time zones (UTC-12 to
#: UTC+14) and daylight saving.
MARGIN = timedelta(days=2)


class Occurrence(NamedTuple):
    """One due moment of one contact (see the package docstring)."""

    contact_id: int
    key: str
    payload: dict[str, Any]


def catch_up_days() -> int:
    return get_setting("LIFECYCLE_CATCH_UP_DAYS")


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def due_day(fire_on: date, local_today: date) -> bool:
    """Is a moment that falls on ``fire_on`` (a local date) due today, catch-up
    included?"""
    return fire_on <= local_today <= fire_on + timedelta(days=catch_up_days())


def yearly(month: int, day: int, year: int) -> date:
    """This month and day in ``year``; 29 February falls on 28 February in other years
    (still in the birthday's month, as the birthday-month segment sees it)."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def yearly_occurrence(month: int, day: int, days_before: int, local_today: date) -> date | None:
    """The date of the yearly moment (month/day) whose firing day (``days_before`` it)
    is due on ``local_today``; None if none is."""
    for year in (local_today.year - 1, local_today.year, local_today.year + 1):
        moment = yearly(month, day, year)
        if due_day(moment - timedelta(days=days_before), local_today):
            return moment
    return None


def _month_days(first: date, last: date) -> set[tuple[int, int]]:
    """The (month, day) pairs of [first, last]; 29 February is added where 28 February
    of a common year is in the range."""
    pairs: set[tuple[int, int]] = set()
    day = first
    while day <= last:
        pairs.add((day.month, day.day))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            pairs.add((2, 29))
        day += timedelta(days=1)
    return pairs


def _pairs_q(prefix: str, pairs: set[tuple[int, int]]) -> Q:
    query = Q()
    for month, day in sorted(pairs):
        query |= Q(**{f"{prefix}__month": month, f"{prefix}__day": day})
    return query


def _zones(contact_ids: list[int]) -> dict[int, tzinfo]:
    cache: dict[str, tzinfo] = {}
    found = {}
    for pk, name in Contact.objects.filter(pk__in=contact_ids).values_list("pk", "timezone"):
        if name not in cache:
            cache[name] = zone(name)
        found[pk] = cache[name]
    return found


def _contact_pages(candidates, after: int, batch_size: int) -> Iterator[list[int]]:
    """Pages of distinct contact ids from ``candidates`` (a queryset with a
    ``contact_id`` column), after the cursor, ``batch_size`` at a time."""
    while True:
        page = list(
            candidates.filter(contact_id__gt=after)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
            .distinct()[:batch_size]
        )
        if not page:
            return
        yield page
        after = page[-1]


def _orders(*conditions: Q, **filters: Any):
    return Event.objects.filter(*conditions, name=ORDER_PLACED, **filters)


def winback(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """No order for ``days`` days: the last order's local date + days is due. Once per
    lapse: the key names the last order's moment, so only a new order (and a new
    lapse after it) fires again."""
    start = now - timedelta(days=days + catch_up_days()) - MARGIN
    end = now - timedelta(days=days) + MARGIN
    candidates = _orders(occurred_at__gte=start, occurred_at__lt=end)
    for page in _contact_pages(candidates, after, batch_size):
        last = dict(
            _orders(contact_id__in=page, occurred_at__lte=now)
            .values("contact_id")
            .annotate(last=Max("occurred_at"))
            .values_list("contact_id", "last")
        )
        zones = _zones(page)
        due = {}
        for contact_id in page:
            tz = zones.get(contact_id)
            moment = last.get(contact_id)
            if tz is None or moment is None:
                continue
            fire_on = moment.astimezone(tz).date() + timedelta(days=days)
            if due_day(fire_on, now.astimezone(tz).date()):
                due[contact_id] = (moment, local_midnight(fire_on, tz))
        snapshots = _snapshots_at({c: m for c, (m, _due) in due.items()})
        for contact_id, (moment, due_at) in due.items():
            yield Occurrence(
                contact_id,
                f"winback:{days}:{contact_id}:{moment.strftime('%Y%m%dT%H%M%S.%f')}",
                {
                    "days": days,
                    "last_order_at": moment.isoformat(),
                    "due_at": due_at,
                    # The last order, for templates; no order_ref: any new order exits.
                    "order": snapshots.get(contact_id, {}),
                },
            )


def _snapshots_at(moments: dict[int, datetime]) -> dict[int, dict]:
    """The snapshot of each contact's order placed at the given moment (one query)."""
    if not moments:
        return {}
    wanted = Q()
    for contact_id, moment in moments.items():
        wanted |= Q(contact_id=contact_id, occurred_at=moment)
    found = {}
    for contact_id, snapshot in _orders().filter(wanted).values_list("contact_id", "snapshot"):
        found.setdefault(contact_id, snapshot)
    return found


def order_followup(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """``days`` days after each order (local dates): the "one month later" email. Once
    per order; the event carries the order (snapshot and reference)."""
    start = now - timedelta(days=days + catch_up_days()) - MARGIN
    end = now - timedelta(days=days) + MARGIN
    candidates = _orders(occurred_at__gte=start, occurred_at__lt=end)
    for page in _contact_pages(candidates, after, batch_size):
        zones = _zones(page)
        rows = (
            candidates.filter(contact_id__in=page)
            .order_by("contact_id", "pk")
            .values_list("pk", "contact_id", "order_ref", "occurred_at", "snapshot")
        )
        for pk, contact_id, order_ref, moment, snapshot in rows:
            tz = zones.get(contact_id)
            if tz is None:
                continue
            fire_on = moment.astimezone(tz).date() + timedelta(days=days)
            if not due_day(fire_on, now.astimezone(tz).date()):
                continue
            yield Occurrence(
                contact_id,
                f"order_followup:{days}:{pk}",
                {
                    "days": days,
                    "ordered_at": moment.isoformat(),
                    "due_at": local_midnight(fire_on, tz),
                    "order": snapshot,
                    "order_ref": order_ref,
                },
            )


def _yearly_window(now: datetime, days_before: int) -> set[tuple[int, int]]:
    """Month/day pairs of the yearly moments that may be due now in some time zone."""
    today = now.date()
    first = today + timedelta(days=days_before - catch_up_days()) - MARGIN
    last = today + timedelta(days=days_before) + MARGIN
    return _month_days(first, last)


def _past_years(now: datetime, days_before: int) -> Q:
    """Order times whose yearly anniversary may be due now: the same few days of each
    earlier year back to the first order, as time ranges (the index on name and time
    answers them; a month/day filter would read every order event)."""
    earliest = _orders().order_by("occurred_at").values_list("occurred_at", flat=True).first()
    if earliest is None:
        return Q(pk__in=[])
    today = now.date()
    first = today + timedelta(days=days_before - catch_up_days()) - MARGIN
    last = today + timedelta(days=days_before) + MARGIN
    ranges = Q(pk__in=[])
    for back in range(1, today.year - earliest.year + 2):
        start = yearly(first.month, first.day, first.year - back)
        end = yearly(last.month, last.day, last.year - back) + timedelta(days=1)
        ranges |= Q(
            occurred_at__gte=local_midnight(start, UTC), occurred_at__lt=local_midnight(end, UTC)
        )
    return ranges


def birthday(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """``days`` days before the contact's birthday (0: on the day), in its time zone;
    once a year. 29 February: on 28 February in common years."""
    pairs = _yearly_window(now, days)
    contacts = Contact.objects.filter(_pairs_q("birthday", pairs), birthday__isnull=False)
    while True:
        page = list(
            contacts.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "birthday", "timezone")[:batch_size]
        )
        if not page:
            return
        for contact_id, born, tz_name in page:
            tz = zone(tz_name)
            moment = yearly_occurrence(born.month, born.day, days, now.astimezone(tz).date())
            if moment is None:
                continue
            yield Occurrence(
                contact_id,
                f"birthday:{days}:{contact_id}:{moment.year}",
                {
                    "days": days,
                    "birthday": moment.isoformat(),
                    "age": moment.year - born.year,
                    "due_at": local_midnight(moment - timedelta(days=days), tz),
                },
            )
        after = page[-1][0]


def anniversary(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """``days`` days before the yearly anniversary of the contact's first order (local
    dates); once a year, from the first anniversary on."""
    candidates = _orders(_past_years(now, days))
    for page in _contact_pages(candidates, after, batch_size):
        first = dict(
            _orders(contact_id__in=page)
            .values("contact_id")
            .annotate(first=Min("occurred_at"))
            .values_list("contact_id", "first")
        )
        zones = _zones(page)
        for contact_id in page:
            tz, started = zones.get(contact_id), first.get(contact_id)
            if tz is None or started is None:
                continue
            day = started.astimezone(tz).date()
            moment = yearly_occurrence(day.month, day.day, days, now.astimezone(tz).date())
            if moment is None or moment.year <= day.year:
                continue
            yield Occurrence(
                contact_id,
                f"anniversary:{days}:{contact_id}:{moment.year}",
                {
                    "days": days,
                    "anniversary": moment.isoformat(),
                    "years": moment.year - day.year,
                    "first_order_at": started.isoformat(),
                    "due_at": local_midnight(moment - timedelta(days=days), tz),
                },
            )


def coupon_expiring(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """``days`` days before a coupon's last valid day (the contact's local date), while
    it is still valid and was never used; once per coupon."""
    unused = Coupon.objects.filter(
        expired_at__isnull=True,
        uses_left__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days) + MARGIN,
    ).filter(~Exists(CouponRedemption.objects.filter(coupon=OuterRef("pk"))))
    for page in _contact_pages(unused, after, batch_size):
        zones = _zones(page)
        rows = (
            unused.filter(contact_id__in=page)
            .order_by("contact_id", "pk")
            .values_list("pk", "contact_id", "code", "issued_at", "expires_at")
        )
        for pk, contact_id, code, issued_at, expires_at in rows:
            tz = zones.get(contact_id)
            if tz is None:
                continue
            last_day = (expires_at - timedelta(microseconds=1)).astimezone(tz).date()
            fire_on = last_day - timedelta(days=days)
            # No catch-up limit: while the code is valid, the reminder is still useful.
            if fire_on > now.astimezone(tz).date():
                continue
            yield Occurrence(
                contact_id,
                f"coupon_expiring:{days}:{pk}",
                {
                    "days": days,
                    "coupon": {"code": code, "expires_on": last_day.isoformat()},
                    "due_at": max(local_midnight(fire_on, tz), issued_at),
                },
            )


def replenishment(now: datetime, days: int, after: int, batch_size: int) -> Iterator[Occurrence]:
    """Products a contact will need again (postpurchase.replenishment's predictions):
    due from ``days`` days before the predicted date to the date itself, once per
    prediction and flow parameter (a new order of the product predicts anew)."""
    # due() returns one batch (at least batch_size results when that many are left,
    # never splitting a contact): page on from its last contact until a short batch.
    cursor = after or None
    while True:
        found = 0
        for contact_id, key, payload in replenishment_finder.due(
            now, cursor, batch_size, lead_days=days
        ):
            found += 1
            cursor = contact_id
            yield Occurrence(contact_id, f"{REPLENISHMENT}:{days}:{key}", {**payload, "days": days})
        if found < batch_size:
            return
