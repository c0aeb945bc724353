"""The complaint-rate pause: when too many emails are marked as spam, the marketing
flows stop sending before the mailbox providers stop taking the shop's mail."""

from __future__ import annotations

import logging

from postpurchase.flows.validation import pause
from postpurchase.models import EmailStep, Flow

logger = logging.getLogger("postpurchase.monitoring")


def marketing_flows() -> tuple[list[Flow], list[Flow]]:
    """(live flows that send marketing email only, live flows that send both kinds).
    A flow with a transactional email (an order confirmation, a shipping notice) is
    never paused: the customer needs that mail whatever the complaint rate; the mixed
    ones are named in the alert, so staff can decide. Flows that send no email at all
    are left alone too."""
    categories: dict[int, set[str]] = {}
    rows = EmailStep.objects.filter(flow__status=Flow.Status.LIVE).values_list(
        "flow_id", "category"
    )
    for flow_id, category in rows:
        categories.setdefault(flow_id, set()).add(category)
    flows = Flow.objects.filter(pk__in=categories).order_by("name", "pk")
    marketing = [f for f in flows if categories[f.pk] == {EmailStep.Category.MARKETING}]
    mixed = [f for f in flows if len(categories[f.pk]) > 1]
    return marketing, mixed


def pause_marketing_flows() -> dict[str, list[dict[str, object]]]:
    """Pause every live marketing-only flow through the flow editor's own pause();
    returns {"paused": [...], "kept": [...]} as {"id", "name"} for the alert."""
    marketing, mixed = marketing_flows()
    for flow in marketing:
        pause(flow)
        logger.warning("postpurchase: flow %s paused: complaint rate too high", flow.pk)
    return {
        "paused": [{"id": f.pk, "name": f.name} for f in marketing],
        "kept": [{"id": f.pk, "name": f.name} for f in mixed],
    }
