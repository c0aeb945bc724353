"""What a step sees while it runs, and the per-batch caches the engine shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from postpurchase.models import Step

if TYPE_CHECKING:
    from postpurchase.models import Contact, Enrollment, Flow, Step


@dataclass
class Batch:
    """State shared by the enrollments processed in one claim: the time and caches, so a
    batch of 200 loads each flow's steps and each template's contents once."""

    now: datetime
    steps_by_flow: dict[int, list[Step]] = field(default_factory=dict)
    index_by_flow: dict[int, dict[int, int]] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)
    # The claim's lease (engine.lease.Lease), renewed and checked by steps that take
    # long, such as sending emails; None outside a claim (previews, resends).
    lease: Any = None
    # {enrollment id: ids of the steps it moved to in this claim}. Reaching one of them
    # again before any wait means the flow loops without a delay.
    entered: dict[int, set[int]] = field(default_factory=dict)

    def steps(self, flow_id: int) -> list[Step]:
        steps = self.steps_by_flow.get(flow_id)
        if steps is None:
            steps = list(Step.objects.filter(flow_id=flow_id).order_by("position", "id"))
            self.steps_by_flow[flow_id] = steps
            self.index_by_flow[flow_id] = {s.pk: i for i, s in enumerate(steps)}
        return steps

    def step_index(self, flow_id: int) -> dict[int, int]:
        """{step id: position in ``steps(flow_id)``}."""
        self.steps(flow_id)
        return self.index_by_flow[flow_id]


@dataclass
class StepContext:
    """Handed to ``Step.execute``: the enrollment, the time and the batch caches."""

    enrollment: Enrollment
    step: Step
    batch: Batch

    @property
    def now(self) -> datetime:
        return self.batch.now

    @property
    def visit(self) -> int:
        """Which time the enrollment reached this step (1 = the first): the Message or
        StepRecord of this visit is its own row."""
        return self.enrollment.visit_of(self.step.pk)

    @property
    def contact(self) -> Contact:
        return self.enrollment.contact

    @property
    def flow(self) -> Flow:
        return self.enrollment.flow

    @property
    def snapshot(self) -> dict[str, Any]:
        return self.enrollment.snapshot
