"""Checking a flow before it goes live: every template renders, every jump lands in the
flow, every step can be reached, and no loop runs without a wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from postpurchase.delivery import backend_problems
from postpurchase.email.previews import sample_context, sample_snapshot
from postpurchase.email.rendering import render_content
from postpurchase.exceptions import TemplateRenderError
from postpurchase.flows.event_names import known_events, label
from postpurchase.lifecycle import date_trigger
from postpurchase.models import DelayStep, EmailStep, Event, Flow, Step
from postpurchase.models.steps import step_links


@dataclass(frozen=True)
class Problem:
    """Something that keeps a flow from going live, with the step at fault (if any)."""

    message: str
    step: Step | None = None

    def __str__(self) -> str:
        if self.step is None:
            return self.message
        name = self.step.name or type(self.step)._meta.verbose_name
        return _("Step %(position)s (%(name)s): %(message)s") % {
            "position": self.step.position,
            "name": name,
            "message": self.message,
        }


def validate_flow(flow: Flow) -> list[Problem]:
    """Everything that keeps ``flow`` from going live; an empty list means it may."""
    problems: list[Problem] = []
    if not flow.trigger.strip():
        problems.append(Problem(_("The flow has no trigger event.")))
    elif flow.trigger not in known_events() and not _occurred(flow.trigger):
        # A misspelt name ("order_deliverd") would go live and never enroll anyone.
        problems.append(
            Problem(
                _(
                    "No source sends the trigger event “%(name)s”: pick one of the known "
                    'events, or declare it in POSTPURCHASE["CUSTOM_EVENTS"] if the shop '
                    "sends it with track()."
                )
                % {"name": flow.trigger}
            )
        )
    problems.extend(_check_trigger_days(flow))
    try:
        flow.clean()  # re-entry period, trigger filter
    except ValidationError as exc:
        problems.extend(Problem(message) for message in exc.messages)
    steps = list(Step.objects.filter(flow=flow).order_by("position", "id"))
    if not steps:
        problems.append(Problem(_("The flow has no steps.")))
        return problems
    snapshot = sample_snapshot(flow)
    for step in steps:
        problems.extend(_check_step(step, flow, snapshot))
    if any(isinstance(s, EmailStep) for s in steps):
        # The ESP must take our emails, or nothing this flow sends would leave.
        problems.extend(Problem(p) for p in backend_problems())
    problems.extend(_check_graph(steps))
    return problems


def _check_trigger_days(flow: Flow) -> list[Problem]:
    """A date trigger needs its number of days; any other trigger must have none (it
    would then enroll no one)."""
    trigger = date_trigger(flow.trigger)
    if trigger is not None and flow.trigger_days is None:
        return [
            Problem(
                _("Set the trigger's days (%(meaning)s) for the date trigger “%(name)s”.")
                % {"meaning": trigger.days_help, "name": trigger.label}
            )
        ]
    if trigger is not None and flow.trigger_days > trigger.max_days:
        return [
            Problem(
                _(
                    "The trigger's days (%(meaning)s) for “%(name)s” are at most %(max)s; "
                    "got %(days)s."
                )
                % {
                    "meaning": trigger.days_help,
                    "name": trigger.label,
                    "max": trigger.max_days,
                    "days": flow.trigger_days,
                }
            )
        ]
    if trigger is None and flow.trigger_days is not None:
        return [Problem(_("Only a date trigger uses the trigger's days: leave them empty."))]
    return []


def flow_warnings(flow: Flow) -> list[str]:
    """What staff should know about ``flow`` that does not keep it from going live."""
    warnings = []
    if flow.trigger.strip() and flow.trigger in known_events() and not _occurred(flow.trigger):
        warnings.append(
            _(
                "No “%(label)s” event has been recorded yet: the flow enrolls no one until "
                "the shop sends it."
            )
            % {"label": label(flow.trigger)}
        )
    return warnings


def _occurred(name: str) -> bool:
    return Event.objects.filter(name=name).exists()


def _check_step(step: Step, flow: Flow, snapshot: dict[str, Any]) -> list[Problem]:
    problems = []
    for field in step_links(step):
        target_id = getattr(step, field.attname)
        if target_id is None:
            continue
        target = Step.objects.non_polymorphic().filter(pk=target_id).first()
        if target is None or target.flow_id != flow.pk:
            problems.append(
                Problem(
                    _("%(field)s points at a step outside this flow.")
                    % {"field": capfirst(field.verbose_name)},
                    step,
                )
            )
    try:
        step.full_clean(exclude=["flow", "position"])
    except Exception as exc:  # ValidationError: its messages name the fields
        messages = getattr(exc, "messages", [str(exc)])
        problems.extend(Problem(message, step) for message in messages)
    if isinstance(step, EmailStep):
        contents = list(step.template.contents.select_related("template"))
        if not contents:
            problems.append(
                Problem(
                    _("Email template “%(template)s” has no content.")
                    % {"template": step.template},
                    step,
                )
            )
        for content in contents:
            try:
                render_content(content, sample_context(snapshot, step.category))
            except TemplateRenderError as exc:
                problems.append(Problem(str(exc), step))
    return problems


def _waits(step: Step) -> bool:
    """Does this step make an enrollment wait on every visit (so a loop through it is
    not endless)? Only a delay counted from reaching it: one counted from the trigger
    is over after the first lap, and one counted from an event passes at once on every
    lap after the event came (the same event is found again)."""
    if isinstance(step, DelayStep):
        return step.relative_to == DelayStep.RelativeTo.PREVIOUS and step.duration > timedelta(0)
    return bool(getattr(step, "waits", False))


def _successors(steps: list[Step], index: int) -> list[int]:
    step = steps[index]
    position = {s.pk: i for i, s in enumerate(steps)}
    targets = [
        position[getattr(step, f.attname)]
        for f in step_links(step)
        if getattr(step, f.attname) in position
    ]
    follow = [index + 1] if index + 1 < len(steps) else []
    return follow + targets


def _check_graph(steps: list[Step]) -> list[Problem]:
    problems = []
    reached = {0}
    todo = [0]
    while todo:
        for nxt in _successors(steps, todo.pop()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    for i, step in enumerate(steps):
        if i not in reached:
            problems.append(Problem(_("No path from the first step leads here."), step))
    # A cycle through steps that never wait would spin without end.
    state: dict[int, int] = {}

    def visit(i: int, path: list[int]) -> list[int] | None:
        state[i] = 1
        for nxt in _successors(steps, i):
            if _waits(steps[nxt]):
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt] if nxt in path else [i, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[i] = 2
        return None

    for i in range(len(steps)):
        if i not in state and not _waits(steps[i]):
            loop = visit(i, [i])
            if loop:
                names = " → ".join(str(steps[j].position) for j in loop)
                message = _(
                    "Steps %(steps)s loop without a delay that waits on every lap: add a "
                    "delay counted from the previous step (one counted from the trigger "
                    "or from an event waits only once)."
                ) % {"steps": names}
                problems.append(Problem(message, steps[loop[0]]))
                break
    return problems


def launch(flow: Flow) -> list[Problem]:
    """Set ``flow`` live if it validates; return the problems otherwise (status unchanged).

    Resuming a paused flow goes through here too: its waiting enrollments continue.
    """
    problems = validate_flow(flow)
    if not problems and flow.status != Flow.Status.LIVE:
        flow.status = Flow.Status.LIVE
        flow.save(update_fields=["status", "updated_at"])
    return problems


def pause(flow: Flow) -> None:
    """Stop a live flow from enrolling and sending; its enrollments wait where they are."""
    if flow.status == Flow.Status.LIVE:
        flow.status = Flow.Status.PAUSED
        flow.save(update_fields=["status", "updated_at"])
