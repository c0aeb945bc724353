"""Jobs that run on a clock rather than per enrollment (expire coupons, ...), one list
for both schedulers: Celery beat runs each as the task ``postpurchase.run_job`` with
the job's name; the built-in scheduler (``postpurchase_scheduler``, inline mode) runs
those that are due between its passes.

A job is a plain function taking no argument and returning a count (for logs). Jobs
must be idempotent and bounded: two schedulers running one at the same time, or a job
run twice after a restart, must do no harm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.module_loading import import_string

logger = logging.getLogger("postpurchase.periodic")


@dataclass(frozen=True)
class Job:
    #: Stable name: the django-celery-beat entry is "postpurchase: <name>".
    name: str
    #: Dotted path of the function (imported when run, so this module imports nothing).
    function: str
    every_seconds: int

    @property
    def entry_name(self) -> str:
        return f"postpurchase: {self.name}"

    def run(self) -> int:
        return import_string(self.function)()


JOBS: list[Job] = [
    Job("expire coupons", "postpurchase.coupons.expire_coupons", 3600),
    Job("health checks", "postpurchase.monitoring.run_health_checks", 300),
    Job("purge expired events", "postpurchase.retention.purge_expired", 3600),
    # Hourly: some contact's local midnight falls in every hour of the day.
    Job("date triggers", "postpurchase.lifecycle.scan.scan_date_triggers", 3600),
    Job("attribute late clicks", "postpurchase.analytics.attribution.attribute_late_touches", 600),
    Job("refresh recommendations", "postpurchase.recommendations.refresh", 3600),
    Job("refresh replenishment", "postpurchase.replenishment.refresh", 3600),
]


def job(name: str) -> Job:
    """The job called ``name``; LookupError names the known ones."""
    for candidate in JOBS:
        if candidate.name == name:
            return candidate
    known = ", ".join(repr(j.name) for j in JOBS)
    raise LookupError(f"No postpurchase periodic job {name!r}; known: {known}")


@dataclass
class Timetable:
    """When each job last ran in this process (the built-in scheduler): every job runs
    on the first pass, then every ``every_seconds``."""

    clock: Callable[[], float] = time.monotonic
    last_run: dict[str, float] = field(default_factory=dict)

    def run_due(self) -> int:
        """Run the jobs that are due; one failing job does not stop the others."""
        ran = 0
        for entry in JOBS:
            now = self.clock()
            last = self.last_run.get(entry.name)
            if last is not None and now - last < entry.every_seconds:
                continue
            self.last_run[entry.name] = now
            try:
                count = entry.run()
                logger.info("postpurchase: job %r done (%s)", entry.name, count)
            except Exception:
                logger.exception("postpurchase: job %r failed", entry.name)
            ran += 1
        return ran
