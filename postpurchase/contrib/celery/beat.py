"""The periodic tasks Celery beat runs for postpurchase, two ways to get them:

- django-celery-beat (``DatabaseScheduler``): ``migrate`` writes them to its tables in
  Celery mode (:func:`register_periodic_tasks`, a ``post_migrate`` receiver);
- any other scheduler: merge :func:`beat_schedule` into ``CELERY_BEAT_SCHEDULE``.

No import of celery or django_celery_beat here: the receiver takes the models from the
app registry, and does nothing when the app is not installed or Celery mode is off.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import DEFAULT_DB_ALIAS, router
from django.utils import timezone

from postpurchase import periodic
from postpurchase.conf import get_setting
from postpurchase.contrib.celery.support import celery_mode

TICK_TASK_NAME = "postpurchase: advance due enrollments"
EXPIRE_TASK_NAME = periodic.job("expire coupons").entry_name

# django-celery-beat's IntervalSchedule periods, in seconds.
_PERIOD_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _interval(seconds: int) -> tuple[int, str]:
    """(every, period) as staff read it in django-celery-beat's admin: "1 hours"."""
    for period in ("days", "hours", "minutes"):
        if seconds % _PERIOD_SECONDS[period] == 0:
            return seconds // _PERIOD_SECONDS[period], period
    return seconds, "seconds"


def _entries(tick_seconds: int) -> list[tuple[str, str, int, str]]:
    """(entry name, task name, args, every, period) of each periodic task: the tick,
    then one ``postpurchase.run_job`` per job of :mod:`postpurchase.periodic`."""
    return [(TICK_TASK_NAME, "postpurchase.tick", [], tick_seconds, "seconds")] + [
        (job.entry_name, "postpurchase.run_job", [job.name], *_interval(job.every_seconds))
        for job in periodic.JOBS
    ]


def beat_schedule(tick_seconds: int | None = None) -> dict[str, dict[str, Any]]:
    """Entries to merge into ``CELERY_BEAT_SCHEDULE`` (beat without django-celery-beat).

    ``tick_seconds`` defaults to ``POSTPURCHASE["TICK_SECONDS"]``; pass it when you call
    this from settings.py itself, where Django settings cannot be read yet.
    """
    if tick_seconds is None:
        tick_seconds = get_setting("TICK_SECONDS")
    return {
        name: {"task": task, "args": args, "schedule": float(every * _PERIOD_SECONDS[period])}
        for name, task, args, every, period in _entries(tick_seconds)
    }


def register_periodic_tasks(
    *, using: str = DEFAULT_DB_ALIAS, apps: Apps = global_apps, **kwargs: Any
) -> bool:
    """Create or update the django-celery-beat entries in the database ``using``:
    ``postpurchase.tick`` every TICK_SECONDS, each periodic job at its interval.

    Connected to ``post_migrate``, so ``migrate`` sets them up with no admin clicks.
    Idempotent; an entry staff disabled stays disabled. Returns whether it wrote
    anything. Outside Celery mode nothing is written: inline and sync shops run no beat.
    """
    if not celery_mode():
        return False
    try:
        # post_migrate's ``apps`` holds the migrated models: plain querysets honour
        # ``using``, unlike the real PeriodicTask.save() and its signal handlers,
        # which write to the router's database.
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        task_model = apps.get_model("django_celery_beat", "PeriodicTask")
        changes_model = apps.get_model("django_celery_beat", "PeriodicTasks")
    except LookupError:
        return False  # not in INSTALLED_APPS: system check E005/E012 says so
    if not router.allow_migrate_model(using, task_model):
        return False
    changed = False
    for name, task, args, every, period in _entries(get_setting("TICK_SECONDS")):
        changed |= _register(
            interval_model, task_model, using, name, task, json.dumps(args), every, period
        )
    if changed:
        # What django-celery-beat's own save() does: tells a running beat to reload.
        changes_model.objects.using(using).update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )
    return changed


def _register(interval_model, task_model, using, name, task, args, every, period) -> bool:
    # No get_or_create: IntervalSchedule has no unique constraint, and shops do end up
    # with duplicate rows (django-celery-beat copes the same way: it takes the first).
    schedules = interval_model.objects.using(using).filter(every=every, period=period)
    existing = task_model.objects.using(using).filter(name=name).first()
    if (
        existing is not None
        and existing.task == task
        and existing.args == args
        and existing.interval_id is not None
        and schedules.filter(pk=existing.interval_id).exists()
    ):
        return False
    schedule = schedules.order_by("pk").first()
    if schedule is None:
        schedule = interval_model.objects.using(using).create(every=every, period=period)
    # interval_id, not interval=: assigning an instance asks the router for a database.
    if existing is None:
        task_model.objects.using(using).create(
            name=name, task=task, args=args, interval_id=schedule.pk, enabled=True
        )
    else:
        task_model.objects.using(using).filter(pk=existing.pk).update(
            task=task,
            args=args,
            interval_id=schedule.pk,
            crontab=None,
            solar=None,
            clocked=None,
        )
    return True
