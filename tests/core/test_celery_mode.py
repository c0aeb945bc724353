"""Celery mode in a project that has the ``celery`` extra (the example shop)."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.checks import run_checks

# ready() loads the Celery tasks and checks when the project starts in Celery mode; this
# test process starts inline, so load them the way a Celery-mode start does.
from postpurchase.contrib.celery import checks, tasks  # noqa: F401
from postpurchase.models import Message

from .helpers import place


@pytest.fixture
def celery_mode(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "EXECUTION": "celery"}
    # As the example shop ships: with DEBUG off its LocMem cache rightly draws W003.
    settings.DEBUG = True


def postpurchase_issues():
    return {e.id for e in run_checks() if e.id.startswith("postpurchase")}


def test_celery_mode_with_a_broker_is_clean(celery_mode, settings):
    # example_shop's CELERY_BROKER_URL: memory:// unless the environment names one (CI's
    # PostgreSQL stage names its Redis).
    assert current_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert postpurchase_issues() == set()


def test_celery_mode_without_a_broker_warns(celery_mode, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    configured = current_app.conf.broker_url
    current_app.conf.broker_url = None
    try:
        assert postpurchase_issues() == {"postpurchase.W004"}
    finally:
        current_app.conf.broker_url = configured


def test_inline_mode_needs_no_broker(monkeypatch, settings):
    settings.DEBUG = True  # as in celery_mode: keeps the attempt limiter's W003 out
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    configured = current_app.conf.broker_url
    current_app.conf.broker_url = None
    try:
        assert postpurchase_issues() == set()
    finally:
        current_app.conf.broker_url = configured


@pytest.mark.django_db
def test_celery_mode_sends_new_enrollments_to_the_run_enrollments_task(
    celery_mode, default_flow, django_capture_on_commit_callbacks
):
    current_app.conf.task_always_eager = True  # the task runs here, as a worker would
    try:
        with django_capture_on_commit_callbacks(execute=True):
            place()
    finally:
        current_app.conf.task_always_eager = False
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"]
