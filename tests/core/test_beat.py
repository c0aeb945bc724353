"""The django-celery-beat entries ``migrate`` writes in Celery mode (and only then)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from postpurchase import periodic
from postpurchase.contrib.celery.beat import EXPIRE_TASK_NAME, TICK_TASK_NAME, beat_schedule

pytestmark = pytest.mark.django_db

OURS = (TICK_TASK_NAME, EXPIRE_TASK_NAME)


def migrate():
    call_command("migrate", verbosity=0)


@pytest.fixture
def celery_mode(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "EXECUTION": "celery"}


def test_migrate_registers_the_beat_tick(celery_mode):
    migrate()
    task = PeriodicTask.objects.get(name=TICK_TASK_NAME)
    assert task.task == "postpurchase.tick"
    assert (task.interval.every, task.interval.period) == (10, "seconds")
    assert task.enabled
    assert PeriodicTasks.last_change() is not None  # beat reloads its schedule
    migrate()  # idempotent
    assert PeriodicTask.objects.filter(name=TICK_TASK_NAME).count() == 1


def test_migrate_registers_the_hourly_coupon_expiry(celery_mode):
    migrate()
    task = PeriodicTask.objects.get(name=EXPIRE_TASK_NAME)
    assert (task.task, json.loads(task.args)) == ("postpurchase.run_job", ["expire coupons"])
    assert (task.interval.every, task.interval.period) == (1, "hours")


def test_an_entry_of_an_older_release_moves_to_the_job_task(celery_mode):
    # Before the periodic registry the entry named the task expire_coupons directly.
    hourly = IntervalSchedule.objects.create(every=1, period="hours")
    PeriodicTask.objects.create(
        name=EXPIRE_TASK_NAME, task="postpurchase.expire_coupons", interval=hourly
    )
    migrate()
    task = PeriodicTask.objects.get(name=EXPIRE_TASK_NAME)
    assert (task.task, json.loads(task.args)) == ("postpurchase.run_job", ["expire coupons"])


def test_every_job_has_a_beat_entry(celery_mode):
    migrate()
    for job in periodic.JOBS:
        entry = PeriodicTask.objects.get(name=job.entry_name)
        assert json.loads(entry.args) == [job.name]


def test_migrate_follows_a_changed_tick(celery_mode, settings):
    migrate()
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "TICK_SECONDS": 30}
    migrate()
    task = PeriodicTask.objects.get(name=TICK_TASK_NAME)
    assert (task.interval.every, task.interval.period) == (30, "seconds")


def test_a_disabled_tick_stays_disabled(celery_mode):
    migrate()
    PeriodicTask.objects.filter(name=TICK_TASK_NAME).update(enabled=False)
    migrate()
    assert not PeriodicTask.objects.get(name=TICK_TASK_NAME).enabled


def test_duplicate_interval_schedules_do_not_break_migrate(celery_mode):
    # django-celery-beat has no unique constraint on (every, period); its own
    # scheduler copes with duplicates, and so must migrate.
    first = IntervalSchedule.objects.create(every=10, period="seconds")
    IntervalSchedule.objects.create(every=10, period="seconds")
    IntervalSchedule.objects.create(every=1, period="hours")
    IntervalSchedule.objects.create(every=1, period="hours")
    migrate()
    assert PeriodicTask.objects.get(name=TICK_TASK_NAME).interval_id == first.pk
    assert PeriodicTask.objects.get(name=EXPIRE_TASK_NAME).interval.every == 1
    migrate()
    assert PeriodicTask.objects.filter(name__in=OURS).count() == 2
    assert PeriodicTask.objects.count() == 1 + len(periodic.JOBS)


@pytest.mark.parametrize("execution", ["inline", "sync"])
def test_inline_and_sync_modes_write_no_beat_rows(settings, execution):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "EXECUTION": execution}
    migrate()
    assert not PeriodicTask.objects.filter(name__in=OURS).exists()
    assert not IntervalSchedule.objects.exists()
    assert not PeriodicTasks.objects.exists()


class RecordingRouter:
    """Records every query on a django-celery-beat model that asks the router for a
    database, i.e. one made without ``using=``."""

    calls: list[str] = []

    def _record(self, kind, model):
        if model._meta.app_label == "django_celery_beat":
            self.calls.append(f"{kind} {model.__name__}")

    def db_for_read(self, model, **hints):
        self._record("read", model)

    def db_for_write(self, model, **hints):
        self._record("write", model)


def test_migrate_writes_beat_rows_to_the_database_it_migrates(celery_mode, settings):
    RecordingRouter.calls = []
    settings.DATABASE_ROUTERS = [f"{__name__}.RecordingRouter"]
    old = IntervalSchedule.objects.using("default").create(every=99, period="seconds")
    PeriodicTask.objects.using("default").update_or_create(
        name=TICK_TASK_NAME, defaults={"task": "old.name", "interval": old}
    )
    RecordingRouter.calls = []
    call_command("migrate", database="default", verbosity=0)
    assert RecordingRouter.calls == []  # every query named the database
    task = PeriodicTask.objects.using("default").get(name=TICK_TASK_NAME)
    assert task.task == "postpurchase.tick"
    assert PeriodicTask.objects.using("default").filter(name__in=OURS).count() == 2


def test_beat_schedule_for_celery_beat_schedule():
    schedule = beat_schedule(tick_seconds=15)
    assert schedule[TICK_TASK_NAME] == {"task": "postpurchase.tick", "args": [], "schedule": 15.0}
    assert schedule[EXPIRE_TASK_NAME] == {
        "task": "postpurchase.run_job",
        "args": ["expire coupons"],
        "schedule": 3600.0,
    }
    assert len(schedule) == 1 + len(periodic.JOBS)


def test_beat_schedule_defaults_to_tick_seconds(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "TICK_SECONDS": 7}
    assert beat_schedule()[TICK_TASK_NAME]["schedule"] == 7.0
