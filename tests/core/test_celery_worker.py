"""A real Celery worker, with Redis as the broker, delivers the thank-you.

Runs when POSTPURCHASE_TEST_REDIS=1 and DATABASE_URL points at PostgreSQL (the worker
is another process and must see the test database). CELERY_BROKER_URL defaults to
redis://127.0.0.1:6379/15 for this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from postpurchase import tasks
from postpurchase.models import Enrollment, Message
from postpurchase.testing.factories import EmailStepFactory, EnrollmentFactory, FlowFactory

from .helpers import place

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_url():
    return os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def worker(broker_url, settings):
    from example_shop.celery import app

    app.conf.broker_url = broker_url
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "EXECUTION": "celery"}
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "POSTPURCHASE_EXECUTION": "celery",
        "DJANGO_SETTINGS_MODULE": "example_shop.settings",
    }
    with app.connection_for_write() as conn:  # start from an empty queue
        conn.default_channel.queue_purge("celery")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "example_shop", "worker", "--pool=solo",
         "--loglevel=warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield proc
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    print(output.decode(errors="replace"))


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_delivers_the_thank_you_after_commit(default_flow, worker):
    with transaction.atomic():
        place()
    assert wait_for(lambda: Message.objects.filter(status="sent").exists()), (
        "the worker did not send the thank-you"
    )
    message = Message.objects.get()
    assert message.esp_name == "test"
    assert message.esp_message_id != ""
    enrollment = Enrollment.objects.get()
    assert wait_for(lambda: Enrollment.objects.get().due_at > enrollment.triggered_at)
    assert worker.poll() is None


def test_tick_wakes_workers_for_due_work(worker):
    flow = FlowFactory()
    EmailStepFactory(flow=flow)
    for _ in range(5):
        EnrollmentFactory(flow=flow)
    assert tasks.tick.delay() is not None
    assert wait_for(lambda: Message.objects.filter(status="sent").count() == 5)
    assert wait_for(
        lambda: set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}
    )
