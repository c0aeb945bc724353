"""Run the health monitor's checks and say whether all is well, for cron or an uptime
monitor (exit codes in docs/monitoring.md)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from postpurchase import clock
from postpurchase.models import Incident
from postpurchase.monitoring import FIGURES, check, check_and_record, describe, hourly

#: Exit codes: healthy; an incident is open; the checks could not run.
OK, INCIDENT, CHECK_FAILED = 0, 1, 2


class Command(BaseCommand):
    help = (
        "Run the health checks of post-purchase emails (orders, enrollments, sends, "
        "failures, bounces, complaints, the scheduler's backlog), record incidents as the "
        "periodic job does, and exit 0 when all is well, 1 when an incident is open, 2 "
        "when the checks could not run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON, not text.")
        parser.add_argument(
            "--hours", type=int, default=24, help="Hours of figures to show (default 24)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only check: open, resolve or mail no incident (exit 1 when a rule fires).",
        )

    def handle(self, *args, **options):
        try:
            now = clock.now()
            if options["dry_run"]:
                problems = [
                    Incident(kind=f.kind, opened_at=now, last_seen_at=now, details=f.details)
                    for f in check(now)
                ]
            else:
                problems = check_and_record()
            figures = hourly(now, max(1, options["hours"]))
        except Exception as exc:
            raise CommandError(
                f"postpurchase health checks failed: {type(exc).__name__}: {exc}",
                returncode=CHECK_FAILED,
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(_report(problems, figures), indent=2))
        else:
            self._print(problems, figures)
        if problems:
            raise SystemExit(INCIDENT)

    def _print(self, problems: list[Incident], figures: list[dict]) -> None:
        self.stdout.write("hour (UTC)        " + " ".join(f"{name:>12}" for name in FIGURES))
        for row in figures:
            counts = " ".join(f"{row[name]:>12}" for name in FIGURES)
            self.stdout.write(f"{row['hour']:%Y-%m-%d %H:00} {counts}")
        if not problems:
            self.stdout.write(self.style.SUCCESS(_("All is well.")))
        for incident in problems:
            self.stdout.write(
                self.style.ERROR(f"{incident.get_kind_display()}: {describe(incident)}")
            )


def _report(problems: list[Incident], figures: list[dict]) -> dict:
    return {
        "status": "incident" if problems else "ok",
        "incidents": [
            {
                "id": incident.pk,
                "kind": incident.kind,
                "opened_at": incident.opened_at.isoformat(),
                "details": incident.details,
                "text": describe(incident),
            }
            for incident in problems
        ],
        "hours": [{**row, "hour": row["hour"].isoformat()} for row in figures],
    }
