"""Registering the periodic tasks with django-celery-beat (idempotent)."""

from __future__ import annotations

from .conf import get_setting

TICK_TASK_NAME = "postpurchase: advance due enrollments"
EXPIRE_TASK_NAME = "postpurchase: expire coupons"


def _register(name: str, task_path: str, every: int, period: str) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    task, created = PeriodicTask.objects.get_or_create(
        name=name, defaults={"task": task_path, "interval": schedule, "enabled": True}
    )
    if not created and (task.interval_id != schedule.pk or task.task != task_path):
        task.interval = schedule
        task.task = task_path
        task.save()
        PeriodicTasks.update_changed()


def register_periodic_tick(**kwargs) -> None:
    """Create or update the beat entries: ``postpurchase.tick`` every TICK_SECONDS, and
    ``postpurchase.expire_coupons`` hourly (tells the adapter about expired codes).

    Connected to ``post_migrate``, so ``migrate`` sets them up with no admin clicks.
    """
    from django_celery_beat.models import IntervalSchedule

    _register(
        TICK_TASK_NAME, "postpurchase.tick", get_setting("TICK_SECONDS"), IntervalSchedule.SECONDS
    )
    _register(EXPIRE_TASK_NAME, "postpurchase.expire_coupons", 1, IntervalSchedule.HOURS)
