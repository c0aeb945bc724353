"""Date triggers: flows that start from time passing rather than from an event the shop
sends (winback after N days without an order, N days after an order, a birthday, the
anniversary of the first order, a coupon about to expire unused, replenishment due).

One periodic job, :func:`postpurchase.lifecycle.scan.scan_date_triggers`, looks at the
date triggers that live flows use, asks each trigger's *finder* which contacts' moments
are due, and records one event per occurrence (``winback_due``, ``birthday``, ...)
through ``record_event``: the event enrolls, exits and counts like any other. Each
event carries an occurrence key (``Event.dedupe_key``, unique), so a contact enters a
winback flow once per lapse and a birthday flow once a year however often the scan runs
or restarts.

A trigger is registered with :func:`register_date_trigger`::

    register_date_trigger("replenishment_due", _("Replenishment due"), finder)

``finder(now, days, after, batch_size)`` yields :class:`Occurrence` tuples
``(contact_id, key, payload)`` for the contacts whose moment is due at ``now`` (an aware
datetime, the app clock's), in ascending contact id, only for contacts with an id
greater than ``after`` (the cursor), reading at most ``batch_size`` contacts from the
database at a time (a generator, so memory stays bounded). ``days`` is the flows'
parameter (``Flow.trigger_days``: days since the last order, days before the birthday,
...). ``key`` is unique per occurrence and stable across runs (it becomes the event's
``dedupe_key`` and ``ref``; at most 200 characters, and it should include ``days``).
``payload`` is the event's data (JSON-serializable), except three keys the scan takes
out: ``"due_at"`` (a datetime: the moment, the event's ``occurred_at``; default
``now``), ``"order"`` (an order snapshot: the enrollment's snapshot) and
``"order_ref"``. A moment counts as due from the start of its day in the contact's time
zone (``Contact.timezone``), and stays due for ``POSTPURCHASE["LIFECYCLE_CATCH_UP_DAYS"]``
days, so a scan that did not run for a while catches up, while launching a flow does
not reach back to moments long past.
"""

from postpurchase.lifecycle.registry import (
    DateTrigger,
    Occurrence,
    date_trigger,
    date_triggers,
    register_date_trigger,
)

__all__ = ["DateTrigger", "Occurrence", "date_trigger", "date_triggers", "register_date_trigger"]
