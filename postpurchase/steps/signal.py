"""``SignalStep``: the ``step_action`` signal with a named action, for shop code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postpurchase import signals
from postpurchase.models import SignalStep, StepRecord
from postpurchase.models.steps import register_behaviour
from postpurchase.results import Next, StepResult
from postpurchase.steps.records import save_record, step_record

if TYPE_CHECKING:
    from postpurchase.engine.context import StepContext


def fire_signal(step: SignalStep, ctx: StepContext) -> StepResult:
    """Send ``step_action`` once per (enrollment, step, visit): at most once, since the
    record is committed first and a re-run that finds it does not send again."""
    record, created = step_record(ctx)
    if not created:
        return Next()
    signals.emit(
        signals.step_action,
        type(step),
        action=step.action,
        enrollment=ctx.enrollment,
        contact=ctx.contact,
        snapshot=ctx.snapshot,
        step=step,
        visit=record.visit,
    )
    save_record(record, StepRecord.Status.DONE, detail={"action": step.action})
    return Next()


register_behaviour(SignalStep, execute=fire_signal)
