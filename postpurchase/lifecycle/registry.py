"""The date triggers a flow may use: event name, label staff read, finder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from postpurchase.lifecycle import finders
from postpurchase.lifecycle.finders import Occurrence

__all__ = ["DateTrigger", "Occurrence", "date_trigger", "date_triggers", "register_date_trigger"]

Finder = Callable[[datetime, int, int, int], Iterable[Occurrence]]


@dataclass(frozen=True)
class DateTrigger:
    name: str  # the event name flows use as their trigger, e.g. "winback_due"
    label: Any  # what staff read (a lazy translation)
    finder: Finder
    #: What ``Flow.trigger_days`` means for this trigger, for the editor's help.
    days_help: Any = ""
    #: The most days a flow may give it (a yearly moment is never more than a year
    #: ahead; beyond some years a date leaves the calendar).
    max_days: int = 3650


_TRIGGERS: dict[str, DateTrigger] = {}


def register_date_trigger(
    name: str, label: Any, finder: Finder, days_help: Any = "", max_days: int = 3650
) -> None:
    """Add (or replace) the date trigger ``name``: flows may then use it as their
    trigger (with at most ``max_days`` days), and the scan asks ``finder`` for its
    occurrences."""
    _TRIGGERS[name] = DateTrigger(name, label, finder, days_help, max_days)


def date_triggers() -> dict[str, DateTrigger]:
    """The registered date triggers by event name."""
    return dict(_TRIGGERS)


def date_trigger(name: str) -> DateTrigger | None:
    return _TRIGGERS.get(name)


register_date_trigger(
    finders.WINBACK,
    _("No order for N days (winback)"),
    finders.winback,
    _("days since the customer's last order"),
)
register_date_trigger(
    finders.ORDER_FOLLOWUP,
    _("N days after an order"),
    finders.order_followup,
    _("days since the order"),
)
register_date_trigger(
    finders.BIRTHDAY,
    _("Birthday"),
    finders.birthday,
    _("days before the birthday (0: on the day)"),
    max_days=365,
)
register_date_trigger(
    finders.ANNIVERSARY,
    _("Anniversary of the first order"),
    finders.anniversary,
    _("days before the anniversary (0: on the day)"),
    max_days=365,
)
register_date_trigger(
    finders.COUPON_EXPIRING,
    _("A coupon is about to expire unused"),
    finders.coupon_expiring,
    _("days before the coupon's last valid day"),
)
register_date_trigger(
    finders.REPLENISHMENT,
    _("Replenishment due"),
    finders.replenishment,
    _("days before the predicted date (0: on the day)"),
)
