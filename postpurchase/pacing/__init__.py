"""Pacing: when a marketing email may go out (docs/deliverability.md).

Four rules hold a marketing email back; transactional email ignores all of them:

- the shop's cap ``FREQUENCY_CAP``: at most N marketing emails per contact in any
  window of H hours, all flows together;
- the contact's own choice (``Contact.email_frequency``): weekly is at most one in any
  7 days, monthly one in any 30 days;
- quiet hours ``QUIET_HOURS`` in the contact's time zone;
- for steps that opt in, send-time optimisation: the contact's usual hour of opening or
  clicking, within ``SEND_TIME_MAX_DELAY_HOURS``.

An email held back is deferred, not dropped: its Message records until when and why,
and its enrollment is due again at that moment. A step may skip it instead when it
would go out more than ``EmailStep.skip_if_deferred_days`` late.

What a cap counts is what went out or is going out: messages sent, being sent (marked
*sending*, committed before the ESP call) or of unknown outcome, by the time of the
attempt. A deferred email does not count until it is sent, so two emails deferred to
the same moment do not both go: the first is marked *sending*, and the second, checked
after it (the next step group, or again under the contact's row lock when it is
marked), finds it and waits for the next free moment.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Q

from postpurchase.conf import get_setting
from postpurchase.models import Contact, Message
from postpurchase.models.contacts import EmailFrequency
from postpurchase.windows import after_quiet_hours, next_at_hour, zone

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext
    from postpurchase.models import EmailStep

Reason = Message.DeferralReason

#: The contact's own frequency choices, as (emails, window).
FREQUENCY_RULES = {
    EmailFrequency.WEEKLY: (1, timedelta(days=7)),
    EmailFrequency.MONTHLY: (1, timedelta(days=30)),
}
#: How far back engagement is read to learn a contact's usual hour, and how many of the
#: shop's latest engaged emails give the shop-wide hour.
SEND_TIME_LOOKBACK = timedelta(days=180)
SHOP_SAMPLE = 5000
_SHOP_HOUR = "pacing:shop_hour"

# Counted towards a cap: went out, is going out, or may have gone out.
_IN_FLIGHT = (Message.Status.SENDING, Message.Status.UNKNOWN)


@dataclass(frozen=True)
class Rule:
    emails: int
    window: timedelta
    reason: str


@dataclass(frozen=True)
class Hold:
    """A marketing email that may not go now: until when, why, and whether its step
    skips it instead (deferred further than it allows)."""

    until: datetime
    reason: str
    skip: bool = False


@dataclass
class Pace:
    """What decides when one contact's marketing email may go."""

    rules: list[Rule]
    tz: tzinfo
    wanted_at: datetime  # when the email was first meant to go
    skip_after: timedelta | None = None
    hour: int | None = None  # the hour to shift into (send-time optimisation)
    quiet: dict[str, int] | None = None
    max_delay: timedelta = timedelta(hours=24)
    hold: Hold | None = None

    def decide(self, sent: list[datetime], now: datetime) -> Hold | None:
        """None if the email may go at ``now`` given the contact's ``sent`` times, else
        the hold: the first moment every rule allows it."""
        # The reason recorded is the rule that holds it longest; send time and quiet
        # hours only when no cap held it.
        at, reason = now, ""
        for rule in self.rules:
            fits = fits_at(sent, rule, now)
            if fits > at:
                at, reason = fits, rule.reason
        if self.hour is not None:
            shifted = next_at_hour(at, self.tz, self.hour)
            if shifted > at and shifted - at <= self.max_delay:
                at, reason = shifted, reason or Reason.SEND_TIME
        if self.quiet:
            morning = after_quiet_hours(at, self.tz, self.quiet["start"], self.quiet["end"])
            if morning > at:
                at, reason = morning, reason or Reason.QUIET_HOURS
        if at <= now:
            return None
        skip = self.skip_after is not None and at - self.wanted_at > self.skip_after
        return Hold(until=at, reason=reason, skip=skip)


def fits_at(sent: Iterable[datetime], rule: Rule, now: datetime) -> datetime:
    """The first moment at or after ``now`` when one more email keeps to ``rule``: fewer
    than ``rule.emails`` of ``sent`` in the window that ends then. A send at ``t``
    counts in windows ending before ``t + window``."""
    inside = sorted(t for t in sent if t > now - rule.window)
    if len(inside) < rule.emails:
        return now
    # Once the oldest sends age out, leaving emails - 1 in the window, one more fits.
    return inside[len(inside) - rule.emails] + rule.window


def cap_rule() -> Rule | None:
    cap = get_setting("FREQUENCY_CAP")
    if not cap:
        return None
    return Rule(cap["emails"], timedelta(hours=cap["hours"]), Reason.CAP)


def rules_for(contact: Contact, cap: Rule | None) -> list[Rule]:
    rules = [cap] if cap else []
    own = FREQUENCY_RULES.get(contact.email_frequency)
    if own:
        rules.append(Rule(own[0], own[1], Reason.FREQUENCY))
    return rules


def recent_sends(contact_ids: Iterable[int], since: datetime) -> dict[int, list[datetime]]:
    """{contact id: times of its marketing emails sent or being sent after ``since``}:
    one query for a whole batch."""
    ids = list(set(contact_ids))
    found: dict[int, list[datetime]] = defaultdict(list)
    if not ids:
        return found
    rows = (
        Message.objects.filter(contact_id__in=ids, category="marketing")
        .filter(
            Q(status=Message.Status.SENT, sent_at__gt=since)
            | Q(status__in=_IN_FLIGHT, attempted_at__gt=since)
        )
        .values_list("contact_id", "status", "sent_at", "attempted_at")
    )
    for contact_id, status, sent_at, attempted_at in rows:
        found[contact_id].append(sent_at if status == Message.Status.SENT else attempted_at)
    return found


def _first_engagement(opened: datetime | None, clicked: datetime | None) -> datetime | None:
    times = [t for t in (opened, clicked) if t is not None]
    return min(times) if times else None


def _usual_hour(hours: Counter) -> int | None:
    """The most frequent hour; of equally frequent ones the earliest."""
    if not hours:
        return None
    return max(hours.items(), key=lambda item: (item[1], -item[0]))[0]


def usual_hours(contacts: list[Contact], now: datetime) -> dict[int, Counter]:
    """{contact id: Counter of local hours of its first human opens or clicks}, for the
    emails sent in the last SEND_TIME_LOOKBACK: one query."""
    by_id = {c.pk: c for c in contacts}
    rows = (
        Message.objects.filter(contact_id__in=list(by_id), sent_at__gt=now - SEND_TIME_LOOKBACK)
        .filter(Q(opened_at__isnull=False) | Q(clicked_at__isnull=False))
        .values_list("contact_id", "opened_at", "clicked_at")
    )
    counts: dict[int, Counter] = defaultdict(Counter)
    for contact_id, opened, clicked in rows:
        first = _first_engagement(opened, clicked)
        counts[contact_id][first.astimezone(zone(by_id[contact_id].timezone)).hour] += 1
    return counts


def shop_hour(now: datetime, cache: dict[Any, Any]) -> int | None:
    """The local hour at which the shop's customers most often open or click (their
    latest SHOP_SAMPLE engaged emails), once per batch; None below the minimum."""
    if _SHOP_HOUR in cache:
        return cache[_SHOP_HOUR]
    rows = (
        Message.objects.filter(sent_at__gt=now - SEND_TIME_LOOKBACK)
        .filter(Q(opened_at__isnull=False) | Q(clicked_at__isnull=False))
        .order_by("-sent_at")
        .values_list("contact__timezone", "opened_at", "clicked_at")[:SHOP_SAMPLE]
    )
    hours: Counter = Counter()
    zones: dict[str, tzinfo] = {}
    for tz_name, opened, clicked in rows:
        tz = zones.setdefault(tz_name, zone(tz_name))
        hours[_first_engagement(opened, clicked).astimezone(tz).hour] += 1
    enough = sum(hours.values()) >= get_setting("SEND_TIME_MIN_OBSERVATIONS")
    cache[_SHOP_HOUR] = _usual_hour(hours) if enough else None
    return cache[_SHOP_HOUR]


def _timed_already(message: Message, now: datetime) -> bool:
    """Was this email held already, and is the end of that hold now? Then it goes, even
    if the scheduler reaches it after the hour has passed (no second day's wait). Any
    hold counts, not only one whose reason is the send time: a hold's reason is its
    first rule, so an email held by the cap and then moved into the contact's hour is
    recorded as held by the cap."""
    return message.deferred_until is not None and message.deferred_until <= now


def plan(
    step: EmailStep,
    contexts: list[StepContext],
    messages: dict[int, Message],
    now: datetime,
    cache: dict[Any, Any] | None = None,
) -> dict[int, Pace]:
    """{enrollment id: Pace} for the marketing emails of ``contexts`` (those about to be
    sent), each with its ``hold`` (None: it goes now). In order: an email planned to go
    counts for the contact's next one in the same batch. One query for the recent sends
    of all the batch's contacts, one more for their reading hours when the step
    optimises its send time."""
    if step.category != "marketing" or not contexts:
        return {}
    cache = cache if cache is not None else {}
    cap = cap_rule()
    quiet = get_setting("QUIET_HOURS")
    optimise = step.optimise_send_time and get_setting("SEND_TIME_OPTIMISATION")
    rules = {ctx.contact.pk: rules_for(ctx.contact, cap) for ctx in contexts}
    longest = max((r.window for rs in rules.values() for r in rs), default=None)
    sent = recent_sends([pk for pk, rs in rules.items() if rs], now - longest) if longest else {}
    hours: dict[int, Counter] = {}
    if optimise:
        hours = usual_hours([ctx.contact for ctx in contexts], now)
    minimum = get_setting("SEND_TIME_MIN_OBSERVATIONS")
    skip_after = (
        timedelta(days=step.skip_if_deferred_days)
        if step.skip_if_deferred_days is not None
        else None
    )
    paces: dict[int, Pace] = {}
    for ctx in contexts:
        contact, message = ctx.contact, messages[ctx.enrollment.pk]
        pace = Pace(
            rules=rules[contact.pk],
            tz=zone(contact.timezone),
            wanted_at=message.wanted_at or now,
            skip_after=skip_after,
            quiet=quiet,
            max_delay=timedelta(hours=get_setting("SEND_TIME_MAX_DELAY_HOURS")),
        )
        if optimise and not _timed_already(message, now):
            own = hours.get(contact.pk, Counter())
            pace.hour = _usual_hour(own) if sum(own.values()) >= minimum else shop_hour(now, cache)
        contact_sent = sent.setdefault(contact.pk, []) if pace.rules else []
        pace.hold = pace.decide(contact_sent, now)
        if pace.hold is None and pace.rules:
            contact_sent.append(now)  # goes now: counts for this contact's next email
        paces[ctx.enrollment.pk] = pace
    return paces


def recheck(paced: list[tuple[int, Pace]], now: datetime) -> dict[int, Hold]:
    """In the transaction that marks emails *sending*: lock the contacts' rows (where
    the database can) and check their caps again against what is sent or being sent
    now, so two workers sending to one contact at once do not both pass the cap.
    ``paced`` is (contact id, Pace) in sending order; returns {index: Hold} for those
    that no longer fit."""
    capped = [(i, cid, pace) for i, (cid, pace) in enumerate(paced) if pace.rules]
    if not capped:
        return {}
    ids = sorted({cid for _, cid, _ in capped})
    if connection.features.has_select_for_update:
        # In id order, so two workers locking overlapping contacts cannot deadlock.
        list(Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    longest = max(r.window for _, _, pace in capped for r in pace.rules)
    sent = recent_sends(ids, now - longest)
    late: dict[int, Hold] = {}
    for index, cid, pace in capped:
        contact_sent = sent.setdefault(cid, [])
        # Only the caps can have changed since the plan; send time and quiet hours are
        # the plan's (the email was due to go now).
        hold = Pace(
            rules=pace.rules,
            tz=pace.tz,
            wanted_at=pace.wanted_at,
            skip_after=pace.skip_after,
            quiet=pace.quiet,
        ).decide(contact_sent, now)
        if hold is None:
            contact_sent.append(now)
        else:
            late[index] = hold
    return late
