"""The engine: enrolling contacts and walking enrollments through their flows.

Plain functions only; Celery tasks, management commands and the demo call these.
"""

from postpurchase.engine.enrollment import (
    enroll,
    exit_enrollment,
    exit_for_event,
    record_event,
    retry,
    upsert_contact,
)
from postpurchase.engine.scheduler import (
    advance_due,
    claim_due,
    count_due,
    next_due_at,
    process,
    run_due,
    run_enrollments,
    run_scheduler,
)
from postpurchase.results import Exit, Fail, JumpTo, Next, StepResult, Wait

__all__ = [
    "Exit",
    "Fail",
    "JumpTo",
    "Next",
    "StepResult",
    "Wait",
    "advance_due",
    "claim_due",
    "count_due",
    "enroll",
    "exit_enrollment",
    "exit_for_event",
    "next_due_at",
    "process",
    "record_event",
    "retry",
    "run_due",
    "run_enrollments",
    "run_scheduler",
    "upsert_contact",
]
