"""Registering the periodic tick with django-celery-beat (idempotent)."""

from __future__ import annotations

from .conf import get_setting

TICK_TASK_NAME = "postpurchase: advance due enrollments"


def register_periodic_tick(**kwargs) -> None:
    """Create or update the one beat entry that runs ``postpurchase.tick``.

    Connected to ``post_migrate``, so ``migrate`` sets it up with no admin clicks.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=get_setting("TICK_SECONDS"), period=IntervalSchedule.SECONDS
    )
    task, created = PeriodicTask.objects.get_or_create(
        name=TICK_TASK_NAME,
        defaults={"task": "postpurchase.tick", "interval": schedule, "enabled": True},
    )
    if not created and (task.interval_id != schedule.pk or task.task != "postpurchase.tick"):
        task.interval = schedule
        task.task = "postpurchase.tick"
        task.save()
        PeriodicTasks.update_changed()
