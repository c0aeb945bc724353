"""Run due work in a loop, for deployments without Celery (or once, from cron)."""

from django.core.management.base import BaseCommand

from postpurchase import engine


class Command(BaseCommand):
    help = "Advance due post-purchase enrollments every few seconds (no broker needed)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between passes (default 5)."
        )

    def handle(self, *args, once=False, interval=5.0, **options):
        if interval <= 0:
            self.stderr.write("--interval must be positive")
            raise SystemExit(2)
        if once:
            done = engine.run_due()
            self.stdout.write(f"Advanced {done} enrollment(s).")
            return
        self.stdout.write(f"Advancing due enrollments every {interval:g}s; Ctrl+C stops.")
        try:
            engine.run_scheduler(interval=interval)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
