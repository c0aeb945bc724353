"""The event names a flow can use (trigger, exit events, a delay's "counted from"), with
the labels staff read: the inbound signals, the app's own events, custom events of the
ready-made recipes and of the shop (POSTPURCHASE["CUSTOM_EVENTS"]), and names already
recorded in the events table."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from postpurchase.conf import get_setting
from postpurchase.lifecycle import date_triggers
from postpurchase.models import Event

#: Events that a source in the app sends: the inbound signals and the NPS answer.
BUILT_IN: dict[str, str] = {
    "order_placed": _("Order placed"),
    "order_paid": _("Order paid"),
    "order_shipped": _("Order shipped"),
    "order_delivered": _("Order delivered"),
    "order_cancelled": _("Order cancelled"),
    "order_refunded": _("Order refunded"),
    "review_submitted": _("Review submitted"),
    "nps_submitted": _("NPS answer submitted"),
}
#: Custom events the ready-made recipes document that the shop sends with track().
RECIPE_EVENTS: dict[str, str] = {
    "cart_updated": _("Cart updated"),
    "cart_emptied": _("Cart emptied"),
    "product_viewed": _("Product viewed"),
}


def custom_events() -> dict[str, str]:
    """The recipes' custom events and the shop's declared ones (the shop's labels win)."""
    return {**RECIPE_EVENTS, **get_setting("CUSTOM_EVENTS")}


def date_events() -> dict[str, str]:
    """The date triggers' events (fired by the scan), name -> label."""
    return {name: trigger.label for name, trigger in date_triggers().items()}


def known_events() -> dict[str, str]:
    """Events some source can send, name -> label (not counting the events table)."""
    return {**BUILT_IN, **date_events(), **custom_events()}


def seen_events() -> set[str]:
    """Every event name recorded so far (one query)."""
    return set(Event.objects.order_by().values_list("name", flat=True).distinct())


def label(name: str) -> str:
    """The label staff read for an event name (the name itself when unknown)."""
    return str(known_events().get(name, name))


def event_choices(seen: set[str] | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a select or checkboxes: the app's events, the custom ones,
    then the other names found in the events table (``seen``, queried if None)."""
    seen = seen_events() if seen is None else seen
    custom = custom_events()
    dates = date_events()
    others = sorted(seen - set(BUILT_IN) - set(dates) - set(custom))
    groups = [
        (_("Shop and app events"), list(BUILT_IN.items())),
        (_("Date triggers (set the days below)"), list(dates.items())),
        (_("Custom events"), list(custom.items())),
        (_("Other events recorded so far"), [(name, name) for name in others]),
    ]
    return [(title, [(n, str(v)) for n, v in items]) for title, items in groups if items]
