"""Signals: the ones a shop sends to us (inbound) and the ones we send (outbound).

Inbound: send them from the shop when an order changes, e.g.
``order_placed.send(sender=Order, order=order)``. Each one records an event for the
order's customer, enrolls them in matching live flows and exits flows that list the
event among their exit events.

Outbound: receive them to extend the app (award bonus points, sync a CRM, ...). They
are sent once the transaction that recorded what they announce has committed (at once
when there is none): a shop transaction that rolls back, or a step result the engine
drops, announces nothing.
"""

import functools
import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, router, transaction
from django.dispatch import Signal

logger = logging.getLogger("postpurchase.signals")

# --- inbound: the shop sends these -------------------------------------------------
#: provides args: order, (optional) data: dict of extra event data
order_placed = Signal()
#: provides args: order, (optional) data
order_paid = Signal()
#: provides args: order, (optional) data (e.g. {"tracking_url": ...})
order_shipped = Signal()
#: provides args: order, (optional) data
order_delivered = Signal()
#: provides args: order, (optional) data
order_cancelled = Signal()
#: provides args: order, (optional) data
order_refunded = Signal()
#: provides args: review, (optional) data
review_submitted = Signal()

#: Map of event name -> inbound signal, wired in ``PostpurchaseConfig.ready``.
ORDER_SIGNALS = {
    "order_placed": order_placed,
    "order_paid": order_paid,
    "order_shipped": order_shipped,
    "order_delivered": order_delivered,
    "order_cancelled": order_cancelled,
    "order_refunded": order_refunded,
}

# --- outbound: we send these -------------------------------------------------------
#: provides args: event (postpurchase.models.Event)
event_tracked = Signal()
#: provides args: enrollment
enrolled = Signal()
#: provides args: enrollment, step, result (postpurchase.results.StepResult)
step_executed = Signal()
#: provides args: message
message_sent = Signal()
#: provides args: message, error (str), final (bool: no more attempts)
message_failed = Signal()
#: provides args: message, reason ("unsubscribed" or "suppressed")
message_suppressed = Signal()
#: provides args: message, until (datetime: when it may go), reason ("cap", "frequency",
#: "quiet_hours", "send_time")
message_deferred = Signal()
#: provides args: message, reason (as message_deferred): deferred further than its step
#: allows, so not sent
message_skipped = Signal()
#: provides args: enrollment, reason
enrollment_exited = Signal()
#: provides args: enrollment
enrollment_completed = Signal()
#: provides args: contact, message (or None), source ("one_click", "link", or "esp":
#: the ESP reported an unsubscribe through its webhook)
unsubscribed = Signal()
#: ESP and first-party tracking (postpurchase.tracking), each sent once per new
#: MessageEvent, never for a replayed webhook. provides args: message, event
#: (postpurchase.models.MessageEvent), first (bool: the message's first human open /
#: click, which filled opened_at / clicked_at), machine (bool: made by a machine, a
#: privacy proxy or a scanner; event.machine_reason says why)
message_opened = Signal()
#: provides args: message, event, first, machine
message_clicked = Signal()
#: provides args: message (or None: the event matched no email of ours), event, hard
#: (bool: a permanent bounce, which suppressed the address)
message_bounced = Signal()
#: provides args: message (or None), event
message_complained = Signal()
#: provides args: contact, reason ("hard_bounce", "invalid", "complaint"), event. Sent
#: when an ESP event stops all email to the contact.
contact_suppressed = Signal()
#: provides args: action (str, the SignalStep's action), enrollment, contact, snapshot
#: (dict, the order), step (the SignalStep), visit (int: the how-manieth time the
#: enrollment reached the step, 1 the first). Sent at most once per (enrollment, step)
#: and visit of the step (a flow may loop back to it), by the worker running the flow;
#: a receiver that raises is logged and the flow goes on. Make receivers
#: idempotent-safe (e.g. key your own record on enrollment.pk, step.pk and the visit):
#: a shop-side retry or a re-run of your own code must not act twice.
step_action = Signal()
#: provides args: response (postpurchase.models.NPSResponse), created (bool: False when
#: the customer changed an earlier answer to the same email)
nps_submitted = Signal()

#: The health monitor (postpurchase.monitoring). provides args: incident
#: (postpurchase.models.Incident). Sent once when an incident opens, not when a later
#: check finds it still there.
health_alert = Signal()
#: provides args: incident. Sent once when a check finds the incident gone.
health_resolved = Signal()
#: provides args: contact, record (postpurchase.models.ConsentRecord: purpose, state or
#: frequency, source, wording). Sent after commit for each change of consent or of the
#: chosen email frequency (checkout, preference centre, unsubscribe, ESP report, admin).
consent_changed = Signal()
#: provides args: contact_id (int: the contact no longer exists), digest (str: the
#: address's keyed hash now on the erased list), counts (dict: rows deleted by model)
contact_erased = Signal()
#: provides args: conversion (postpurchase.models.Conversion). Sent once per attributed
#: order (or goal event of a flow), after the conversion is recorded.
conversion_recorded = Signal()

#: provides args: coupon (postpurchase.models.Coupon). Sent after commit, once per
#: code, right after the adapter's ``mirror_coupon``.
coupon_issued = Signal()
#: provides args: coupon, redemption (postpurchase.models.CouponRedemption). Sent after
#: the redemption commits; not again when a retried checkout redeems the same order.
coupon_redeemed = Signal()
#: provides args: coupon (postpurchase.models.Coupon), replaced_by (the Coupon whose
#: issue withdrew it). Sent after commit, once per code, after the adapter's
#: ``coupon_expired``: an escalating offer made an earlier unused code stop working.
coupon_withdrawn = Signal()

#: provides args: prediction (postpurchase.models.PurchasedProduct): a contact's
#: predicted date for needing a product again was set or moved (a new order, a newly
#: learned cycle). Sent after commit.
replenishment_predicted = Signal()


def emit(signal: Signal, sender, **kwargs) -> None:
    """Send an outbound signal once the current transaction on the database of what it
    announces commits (at once outside a transaction); nothing if it rolls back. A
    receiver that raises is logged, never allowed to undo what the app did (an email
    that went out stays recorded as sent)."""
    transaction.on_commit(
        functools.partial(_send, signal, sender, kwargs), using=_alias(sender, kwargs)
    )


def _alias(sender, kwargs: dict[str, Any]) -> str:
    """The database the announced row was written to: its transaction is the one that
    must commit first."""
    for value in kwargs.values():
        if isinstance(value, models.Model):
            return router.db_for_write(type(value), instance=value)
    if isinstance(sender, type) and issubclass(sender, models.Model):
        return router.db_for_write(sender)
    return DEFAULT_DB_ALIAS


def _send(signal: Signal, sender, kwargs: dict[str, Any]) -> None:
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "postpurchase: receiver %r of a signal raised %r",
                receiver,
                result,
                exc_info=(type(result), result, result.__traceback__),
            )
