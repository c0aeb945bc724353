"""Run due work in a loop, for deployments without Celery (or once, from cron)."""

import signal
import threading

from django.core.management.base import BaseCommand

from postpurchase import engine, shutdown


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
        stop = threading.Event()

        def on_term(signum, frame):
            # Finish the emails in flight and record them; start nothing new.
            shutdown.request_stop()
            stop.set()

        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, on_term)
        try:
            if once:
                done = engine.run_due()
                self.stdout.write(f"Advanced {done} enrollment(s).")
                return
            self.stdout.write(
                f"Advancing due enrollments every {interval:g}s; Ctrl+C or SIGTERM stops."
            )
            engine.run_scheduler(stop_event=stop, interval=interval)
            self.stdout.write("Stopped.")
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
