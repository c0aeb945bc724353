"""Operations on whole flows that staff run from the admin (plain functions)."""

from __future__ import annotations

from django.db import transaction

from postpurchase import clock
from postpurchase.models import Enrollment, Flow, Step
from postpurchase.models.steps import step_links


@transaction.atomic
def duplicate_flow(flow: Flow) -> Flow:
    """Copy a flow and its steps as a new draft (enrollments are not copied)."""
    base_slug = f"{flow.slug}-copy"[:90]
    slug, n = base_slug, 1
    while Flow.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base_slug}-{n}"
    skip = {"id", "slug", "name", "status", "created_at", "updated_at"}
    values = {
        f.attname: getattr(flow, f.attname)
        for f in Flow._meta.concrete_fields
        if f.name not in skip
    }
    copy = Flow.objects.create(
        name=f"{flow.name} (copy)"[:200], slug=slug, status=Flow.Status.DRAFT, **values
    )
    old_to_new: dict[int, Step] = {}
    originals = list(Step.objects.filter(flow=flow).order_by("position", "id"))
    for step in originals:
        clone = _copy_step(step, copy)
        old_to_new[step.pk] = clone
    # Jump targets point at the copies, not at the original flow's steps.
    for step in originals:
        clone = old_to_new[step.pk]
        changed = []
        for field in step_links(step):
            if getattr(step, field.attname) in old_to_new:
                setattr(clone, field.name, old_to_new[getattr(step, field.attname)])
                changed.append(field.name)
        if changed:
            clone.save(update_fields=changed)
    return copy


def _copy_step(step: Step, flow: Flow) -> Step:
    model = type(step)
    links = {field.name for field in step_links(step)}  # re-pointed once all exist
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.one_to_one or field.name in ("flow", "polymorphic_ctype"):
            continue
        if field.name not in links:
            values[field.attname] = getattr(step, field.attname)
    return model.objects.create(flow=flow, **values)


def move_enrollments_off(step: Step) -> int:
    """Before ``step`` is deleted, move the active enrollments standing on it to the step
    that follows it, due now, so editing a live flow never strands or silently ends them.
    (Without a following step they complete at their next run.)"""
    following = (
        Step.objects.non_polymorphic()
        .filter(flow_id=step.flow_id)
        .exclude(pk=step.pk)
        .filter(position__gte=step.position)
        .order_by("position", "id")
        .first()
    )
    now = clock.now()
    standing = Enrollment.objects.filter(step=step, status=Enrollment.Status.ACTIVE).only(
        "pk", "step_id", "visits"
    )
    moved = 0
    batch: list[Enrollment] = []
    # One by one in memory (each counts its visit of the following step, so a loop that
    # reaches an email it has sent before sends it again), saved in batches.
    for enrollment in standing.iterator(chunk_size=MOVE_BATCH):
        enrollment.move_to(following, now)
        enrollment.due_at = now
        batch.append(enrollment)
        if len(batch) == MOVE_BATCH:
            moved += _save_moved(batch)
            batch = []
    return moved + (_save_moved(batch) if batch else 0)


MOVE_BATCH = 500


def _save_moved(enrollments: list[Enrollment]) -> int:
    return Enrollment.objects.bulk_update(
        enrollments, ["step", "step_entered_at", "due_at", "attempts", "last_error", "visits"]
    )


def _on_step_delete(sender, instance, **kwargs) -> None:
    if isinstance(instance, Step):
        move_enrollments_off(instance)
