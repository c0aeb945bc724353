"""``postpurchase_health``: what a cron or uptime monitor runs; exit 0 when all is well,
1 when an incident is open, 2 when the checks cannot run."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from postpurchase.models import Incident

from .conftest import orders

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("postpurchase_health", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_all_well_exits_0(frozen, thank_you):
    orders(5, flow=thank_you)
    code, out = run()
    assert code == 0
    assert "All is well." in out
    assert "2026-11-23 10:00" in out  # the current hour's figures


def test_an_open_incident_exits_1_and_is_recorded(frozen, thank_you):
    orders(5)
    code, out = run()
    assert code == 1
    assert "Orders but no enrollments" in out
    assert Incident.objects.filter(resolved_at__isnull=True).count() == 1


def test_dry_run_records_nothing(frozen, thank_you):
    orders(5)
    code, _out = run("--dry-run")
    assert code == 1
    assert Incident.objects.count() == 0


def test_json(frozen, thank_you):
    orders(5)
    code, out = run("--json", "--hours", "2")
    report = json.loads(out)
    assert code == 1 and report["status"] == "incident"
    [incident] = report["incidents"]
    assert incident["kind"] == "no_enrollments" and incident["details"]["orders"] == 5
    assert [row["orders"] for row in report["hours"]] == [5, 0]  # 09:55, then 10:00


def test_checks_that_cannot_run_exit_2(frozen, monkeypatch):
    def broken():
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(
        "postpurchase.management.commands.postpurchase_health.check_and_record", broken
    )
    with pytest.raises(CommandError, match="database unreachable") as raised:
        call_command("postpurchase_health")
    assert raised.value.returncode == 2
