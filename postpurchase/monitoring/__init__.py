"""The health monitor (docs/monitoring.md): hourly figures, divergence rules, incidents
with a signal, one staff email and an admin banner, the complaint-rate pause of
marketing flows, and the ``postpurchase_health`` command's checks."""

from __future__ import annotations

from postpurchase import clock
from postpurchase.models import Incident
from postpurchase.monitoring.figures import FIGURES, hourly
from postpurchase.monitoring.incidents import describe, open_incidents, record
from postpurchase.monitoring.rules import RULES, Finding, check

__all__ = [
    "FIGURES",
    "RULES",
    "Finding",
    "check",
    "describe",
    "hourly",
    "open_incidents",
    "record",
    "run_health_checks",
]


def run_health_checks() -> int:
    """The periodic job: run every rule and record what it finds; returns how many
    incidents are open afterwards."""
    return len(check_and_record())


def check_and_record() -> list[Incident]:
    now = clock.now()
    return record(check(now), now)
