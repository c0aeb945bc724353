"""Send windows: local hours and weekdays in which a delay may end.

A window is evaluated in the contact's time zone (``Contact.timezone``), falling back to
``settings.TIME_ZONE`` and then UTC, so a malformed zone name in a contact's data never
stops a flow.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

ALL_WEEKDAYS = "0123456"  # Monday = 0, as date.weekday()


def zone(name: str | None) -> tzinfo:
    """The time zone called ``name``; settings.TIME_ZONE (else UTC) if it is not one."""
    for candidate in (name, getattr(settings, "TIME_ZONE", None)):
        if not candidate:
            continue
        try:
            return ZoneInfo(str(candidate))
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            # ValueError: not a valid key at all (e.g. "../etc"), which ZoneInfo rejects.
            continue
    return ZoneInfo("UTC")


def _local(day: date, hour: int, tz: tzinfo) -> datetime:
    """Wall-clock ``hour`` of ``day`` in ``tz`` (hour 24 = the next day's midnight)."""
    if hour >= 24:
        day, hour = day + timedelta(days=1), 0
    # A wall time inside a DST gap resolves per PEP 495 (fold=0): about an hour later
    # in UTC terms, which is what "the window opens at 2:00" means on that day.
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


def next_allowed(
    moment: datetime,
    tz: tzinfo,
    start_hour: int = 0,
    end_hour: int = 24,
    weekdays: str = ALL_WEEKDAYS,
) -> datetime:
    """The first instant at or after ``moment`` that falls on one of ``weekdays`` (digits,
    Monday = 0) between ``start_hour`` (inclusive) and ``end_hour`` (exclusive), local
    time in ``tz``. ``moment`` itself if it already does; an aware datetime either way."""
    days = {int(d) for d in weekdays if d.isdigit() and int(d) < 7} or set(range(7))
    if start_hour <= 0 and end_hour >= 24 and len(days) == 7:
        return moment
    local_day = moment.astimezone(tz).date()
    # Eight days cover every weekday once, plus today's remainder.
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opens, closes = _local(day, start_hour, tz), _local(day, end_hour, tz)
        if moment < opens:
            return opens
        if moment < closes:
            return moment
    raise AssertionError("unreachable: a non-empty weekday set recurs within a week")


def after_quiet_hours(moment: datetime, tz: tzinfo, start_hour: int, end_hour: int) -> datetime:
    """The first instant at or after ``moment`` outside the quiet hours from
    ``start_hour`` (inclusive) to ``end_hour`` (exclusive), local time in ``tz``; the
    span may cross midnight (21 to 8). ``moment`` itself if it is not quiet."""
    if start_hour == end_hour:
        return moment
    local = moment.astimezone(tz)
    hour = local.hour
    crosses_midnight = start_hour > end_hour
    quiet = (
        (hour >= start_hour or hour < end_hour)
        if crosses_midnight
        else (start_hour <= hour < end_hour)
    )
    if not quiet:
        return moment
    day = local.date()
    if crosses_midnight and hour >= start_hour:
        day += timedelta(days=1)
    return _local(day, end_hour, tz)


def next_at_hour(moment: datetime, tz: tzinfo, hour: int) -> datetime:
    """``moment`` if it falls in the local ``hour`` (in ``tz``), else the next time that
    hour begins: at most a day later."""
    local = moment.astimezone(tz)
    if local.hour == hour:
        return moment
    candidate = _local(local.date(), hour, tz)
    if candidate <= moment:
        candidate = _local(local.date() + timedelta(days=1), hour, tz)
    return candidate
