"""The periodic jobs: one list, run by beat (``postpurchase.run_job``) and by the
built-in scheduler between its passes."""

from __future__ import annotations

import pytest

from postpurchase import periodic
from postpurchase.contrib.celery import tasks


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def calls(monkeypatch):
    ran: list[str] = []
    jobs = [
        periodic.Job("hourly", "tests.core.test_periodic.hourly", 3600),
        periodic.Job("broken", "tests.core.test_periodic.broken", 60),
        periodic.Job("minutely", "tests.core.test_periodic.minutely", 60),
    ]
    monkeypatch.setattr(periodic, "JOBS", jobs)
    monkeypatch.setattr(f"{__name__}.RAN", ran)
    return ran


RAN: list[str] = []  # what the jobs below did, replaced per test by ``calls``


def hourly() -> int:
    RAN.append("hourly")
    return 1


def minutely() -> int:
    RAN.append("minutely")
    return 1


def broken() -> int:
    RAN.append("broken")
    raise RuntimeError("the adapter is down")


def test_every_job_runs_on_the_first_pass_then_at_its_interval(calls):
    clock = FakeClock()
    table = periodic.Timetable(clock=clock)
    assert table.run_due() == 3
    assert calls == ["hourly", "broken", "minutely"]
    clock.now += 59
    assert table.run_due() == 0
    clock.now += 1
    table.run_due()
    assert calls[3:] == ["broken", "minutely"]  # a failing job does not stop the next
    clock.now += 3600
    table.run_due()
    assert calls[5:] == ["hourly", "broken", "minutely"]


def test_beat_runs_a_job_by_its_name(calls):
    assert tasks.run_job("hourly") == 1
    assert calls == ["hourly"]


def test_an_unknown_job_names_the_known_ones(calls):
    with pytest.raises(LookupError, match="'hourly', 'broken', 'minutely'"):
        periodic.job("purge")


@pytest.mark.django_db
def test_the_shipped_jobs_import_and_run():
    for job in periodic.JOBS:
        assert isinstance(job.run(), int)
