"""The flow diagram on the flow's admin page: steps in order, their branches, and how
many enrollments wait at, went through or stopped at each step."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from postpurchase.models import (
    ConditionStep,
    DelayStep,
    EmailStep,
    EmailTemplate,
    Enrollment,
    Flow,
    Message,
    Step,
)
from postpurchase.models.steps import step_links


@dataclass
class Node:
    step: Step
    kind: str
    summary: str
    waiting: int = 0
    sent: int = 0
    stopped: int = 0
    branches: list[tuple[str, int]] = field(default_factory=list)
    #: What the step's emails did, in words ("38.5% opened", ...), filled by the admin.
    figures: list[str] = field(default_factory=list)


@dataclass
class Diagram:
    flow: Flow
    nodes: list[Node]
    enrolled: int
    completed: int


def step_summary(step: Step) -> str:
    """A one-line description: the step's own ``summary()`` if it has one."""
    summary = getattr(step, "summary", None)
    if callable(summary):
        return str(summary())
    if isinstance(step, EmailStep):
        return f"“{step.template}” ({step.get_category_display().split(' (')[0].lower()})"
    if isinstance(step, DelayStep):
        text = _("%(duration)s after %(start)s") % {
            "duration": human_duration(step.duration),
            "start": step.get_relative_to_display(),
        }
        if step.wait_for_readiness:
            text += _(", and until the products can be judged")
        return text
    if isinstance(step, ConditionStep):
        return _("If %(condition)s: %(then)s; otherwise: %(else)s") % {
            "condition": step.get_condition_display(),
            "then": step.get_then_action_display(),
            "else": step.get_else_action_display(),
        }
    return step.name or str(type(step)._meta.verbose_name).capitalize()


def human_duration(delta) -> str:
    """``timedelta(days=1, hours=3)`` -> "1 d 3 h"; zero -> "no time"."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = ((days, _("%(n)d d")), (hours, _("%(n)d h")), (minutes, _("%(n)d min")))
    return " ".join(unit % {"n": n} for n, unit in units if n) or _("no time")


def flow_diagram(flow: Flow) -> Diagram:
    steps = list(Step.objects.filter(flow=flow).order_by("position", "id"))
    # Each email step's summary names its template: one query for all of them.
    templates = EmailTemplate.objects.in_bulk(
        {s.template_id for s in steps if isinstance(s, EmailStep)}
    )
    for step in steps:
        if isinstance(step, EmailStep) and step.template_id in templates:
            step.template = templates[step.template_id]
    position = {s.pk: s.position for s in steps}
    active = dict(
        Enrollment.objects.filter(flow=flow, status=Enrollment.Status.ACTIVE)
        .values_list("step")
        .annotate(n=Count("id"))
    )
    stopped = dict(
        Enrollment.objects.filter(
            flow=flow, status__in=[Enrollment.Status.EXITED, Enrollment.Status.FAILED]
        )
        .values_list("step")
        .annotate(n=Count("id"))
    )
    sent = dict(
        # By step, not through the enrollments: the (step, sent_at) index, no join.
        Message.objects.filter(step_id__in=list(position), status=Message.Status.SENT)
        .values_list("step")
        .annotate(n=Count("id"))
    )
    nodes = []
    for step in steps:
        node = Node(
            step=step,
            kind=str(type(step)._meta.verbose_name),
            summary=step_summary(step),
            waiting=active.get(step.pk, 0),
            sent=sent.get(step.pk, 0),
            stopped=stopped.get(step.pk, 0),
        )
        for link in step_links(step):
            target = getattr(step, link.attname)
            if target in position:
                node.branches.append((str(link.verbose_name), position[target]))
        nodes.append(node)
    counts = Enrollment.objects.filter(flow=flow).aggregate(
        enrolled=Count("id"),
        completed=Count("id", filter=Q(status=Enrollment.Status.COMPLETED)),
    )
    return Diagram(
        flow=flow, nodes=nodes, enrolled=counts["enrolled"], completed=counts["completed"]
    )
