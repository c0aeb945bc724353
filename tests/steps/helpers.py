"""Shared helpers for the step tests."""

from __future__ import annotations

from postpurchase.engine.context import Batch, StepContext
from postpurchase.models import Enrollment, Step


def context(enrollment: Enrollment, step: Step, now) -> StepContext:
    """A StepContext as the engine builds it, to call ``step.execute`` directly."""
    enrollment = Enrollment.objects.select_related("contact", "flow", "trigger_event").get(
        pk=enrollment.pk
    )
    return StepContext(enrollment=enrollment, step=step, batch=Batch(now=now))


def refreshed(enrollment: Enrollment) -> Enrollment:
    enrollment.refresh_from_db()
    return enrollment
