"""The guard of the steps with a side effect outside email to customers.

A :class:`~postpurchase.models.StepRecord`, unique per (enrollment, step, visit) and
committed before acting, so running the step twice for the same visit (a retry, a lease
takeover after a crash) does not act twice, while a flow that loops back to the step acts
once per visit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from postpurchase.models import StepRecord

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext


def step_record(ctx: StepContext) -> tuple[StepRecord, bool]:
    """This (enrollment, step, visit)'s record, created and committed if it is new; True
    if this call created it. Two workers racing here get one row: the unique constraint
    makes the loser's insert fail and ``get_or_create`` then returns the winner's."""
    with transaction.atomic():
        return StepRecord.objects.get_or_create(
            enrollment=ctx.enrollment,
            step=ctx.step,
            visit=ctx.visit,
            defaults={"created_at": ctx.now},
        )


def save_record(
    record: StepRecord, status: str, *, error: str = "", detail: dict[str, Any] | None = None
) -> None:
    record.status = status
    record.error = error[:4000]
    if detail is not None:
        record.detail = detail
    record.save(update_fields=["status", "error", "detail", "attempts", "updated_at"])
