"""Count the visits of enrollments that were walking a flow before 0008.

0008 left every enrollment's ``visits`` empty, which reads as "first visit" for every
step. For a step the enrollment has already acted on (a Message or StepRecord exists),
that is wrong: in a loop, the next lap would find that row, take it as this visit's, and
skip the email. So each such step counts one visit, and the step the enrollment stands
on counts two when it entered it after the row was written (a new lap that has not run
yet). Only active enrollments with empty counts are touched, a chunk at a time.
"""

from django.db import migrations

CHUNK = 2000


def backfill_visits(Enrollment, Message, StepRecord, using: str) -> int:
    """The migration's work, with the models given (historical ones in the migration)."""
    changed = 0
    pending = (
        Enrollment.objects.using(using)
        .filter(status="active", visits={})
        .order_by("pk")
        .values_list("pk", "step_id", "step_entered_at")
    )
    last_pk = 0
    while True:
        chunk = list(pending.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            return changed
        last_pk = chunk[-1][0]
        acted: dict[int, dict[int, object]] = {}
        for model in (Message, StepRecord):
            rows = (
                model.objects.using(using)
                .filter(enrollment_id__in=[pk for pk, _, _ in chunk], step__isnull=False)
                .values_list("enrollment_id", "step_id", "created_at")
            )
            for enrollment_id, step_id, created_at in rows:
                steps = acted.setdefault(enrollment_id, {})
                if step_id not in steps or created_at > steps[step_id]:
                    steps[step_id] = created_at
        updates = []
        for pk, step_id, entered_at in chunk:
            steps = acted.get(pk)
            if not steps:
                continue
            visits = {str(s): 1 for s in steps}
            if step_id in steps and entered_at is not None and entered_at > steps[step_id]:
                visits[str(step_id)] = 2
            updates.append(Enrollment(pk=pk, visits=visits))
        if updates:
            changed += Enrollment.objects.using(using).bulk_update(updates, ["visits"])


def forwards(apps, schema_editor):
    backfill_visits(
        apps.get_model("postpurchase", "Enrollment"),
        apps.get_model("postpurchase", "Message"),
        apps.get_model("postpurchase", "StepRecord"),
        schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("postpurchase", "0009_enroll_spelling"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
