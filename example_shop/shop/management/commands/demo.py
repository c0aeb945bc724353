"""``python manage.py demo``: a ready shop with the post-purchase series live.

``--simulate`` skips the server: it places one order and replays the next 125 days on a
simulated clock, printing every email the series sends and when. It runs on a throwaway
database of its own (a fresh SQLite file, in a child process), so the live demo's
customers, orders and pending emails are never touched, and every run prints the same
series. Its emails are written to ``<MAIL_DIR>/simulated/``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings
from django.utils import timezone

import postpurchase.clock
import postpurchase.conf
import postpurchase.engine
import postpurchase.recipes
from postpurchase import signals
from postpurchase.adapters import get_adapter
from postpurchase.lifecycle.scan import scan_date_triggers
from postpurchase.models import NPSStep
from postpurchase.nps import record_answer

from ...cart import CartLine
from ...checkout import Customer, place_order
from ...demo_data import CUSTOMERS, DEMO_PASSWORD, load_demo_data
from ...demo_history import load_email_history
from ...models import Order, Product
from ...orders import set_status

FLOW = "post-purchase-series"
REVIEW_FLOW = "review-thank-you"
# The NPS survey after delivery, and what a score leads to (E5).
NPS_FLOWS = ["nps-survey", "nps-promoter-review", "nps-detractor-alert"]
# A date-triggered flow (D3): the customer who does not order again for 90 days.
WINBACK_FLOW = "winback"
REPLENISHMENT_FLOW = "replenishment-reminder"
# --simulate: the order is delivered this long after it is placed, and the customer
# answers the NPS survey with this score as soon as it arrives, asking for the review link.
SIMULATED_DELIVERY = timedelta(days=3)
SIMULATED_SCORE = 10
# Long enough for the winback series (90, 105 and 120 days after the order).
SIMULATED_DAYS = 125
#: How often the simulation runs the date-trigger scan (the hourly job, compressed).
SCAN_EVERY = timedelta(days=1)
# What the simulated customer buys: a backpack, a rain cover for it, and stove gas
# (a consumable: the replenishment reminder comes a week before it runs out).
SIMULATED_CART = [("BP-TRK-45", 1), ("AC-COVER-L", 1), ("AC-GAS-230", 1)]
MAX_STEPS = 10_000
#: Under MAIL_DIR: where --simulate writes its emails, apart from the live demo's.
SIMULATED_MAIL = "simulated"


def simulate_on_throwaway_database(mail_dir: str) -> str:
    """Run ``demo --simulate`` in a child process on a fresh SQLite database in a
    temporary folder, and return what it printed. A child, not a second connection in
    this process: nothing (a cached content type, a lease, the adapter) can then carry
    over between the live database and the simulated one. Its emails go to
    ``<mail_dir>/simulated`` (none if ``mail_dir`` is empty)."""
    with tempfile.TemporaryDirectory(prefix="demo-simulate-") as folder:
        env = {
            **os.environ,
            "EXAMPLE_SHOP_VAR_DIR": folder,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "example_shop.settings"
            ),
        }
        env.pop("DATABASE_URL", None)  # always SQLite: a throwaway file, never the shop's
        command = [sys.executable, "-m", "django", "demo", "--simulate"]
        command += ["--on-throwaway-database"]
        if mail_dir:
            command += ["--mail-dir", str(Path(mail_dir) / SIMULATED_MAIL)]
        done = subprocess.run(
            command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False
        )
    if done.returncode:
        raise CommandError(f"The simulation failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def clear_mail_copies(mail_dir: str | None) -> None:
    """Remove the emails an earlier simulation left in its own folder."""
    if not mail_dir:
        return
    folder = Path(mail_dir)
    for path in [*folder.glob("*.html"), *folder.glob("*.txt")]:
        path.unlink()


def format_offset(delta: timedelta) -> str:
    """``timedelta(days=2, minutes=5)`` -> ``+2d 00:05``."""
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    days, rest = divmod(abs(minutes), 24 * 60)
    return f"{sign}{days}d {rest // 60:02d}:{rest % 60:02d}"


class Command(BaseCommand):
    help = "Set up the example shop with demo data and a live post-purchase flow, then serve it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--simulate",
            action="store_true",
            help=f"Place one order and replay {SIMULATED_DAYS} days on a simulated clock.",
        )
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where to serve.")
        parser.add_argument(
            "--no-server", action="store_true", help="Only set up; do not start the server."
        )
        # Set by --simulate for the child process that runs on the throwaway database.
        parser.add_argument("--on-throwaway-database", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--mail-dir", default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        self.simulating = bool(options["simulate"])
        if options["simulate"] and not options["on_throwaway_database"]:
            self.stdout.write(simulate_on_throwaway_database(self.mail_dir()), ending="")
            return
        if options["simulate"]:
            self.stdout.write("Simulating on a throwaway database; the live demo's is untouched.")
            mail_dir = options["mail_dir"] or None
            clear_mail_copies(mail_dir)
            # The simulated clock is this thread's: the wake-up after each order runs
            # here too, not on the embedded default's background thread.
            overrides = {"EXECUTION": "sync", "MAIL_DIR": mail_dir}
            with override_settings(POSTPURCHASE={**settings.POSTPURCHASE, **overrides}):
                self.setup()
                self.simulate()
            return
        self.setup()
        if not options["no_server"]:
            self.serve(options["addrport"])

    def setup(self) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        created = load_demo_data()
        if any(created.values()):
            added = ", ".join(f"{n} {kind}" for kind, n in created.items())
            self.stdout.write(f"Demo data: {added} added.")
        else:
            self.stdout.write("Demo data already loaded.")
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
        self.stdout.write("Admin: /admin/  login admin / password admin")
        names = ", ".join(c[0] for c in CUSTOMERS)
        self.stdout.write(f"Customers: {names} / password {DEMO_PASSWORD}")
        postpurchase.recipes.install(FLOW, live=True)
        self.stdout.write(f"Flow {FLOW!r} is live.")
        if not self.simulating:
            # Two months of its emails already sent, so its analytics show figures.
            added = load_email_history(FLOW)
            if added:
                self.stdout.write(f"Email history: {added} past emails of {FLOW!r} added.")
        # A review written on a product page earns the promised coupon (D1 step 4).
        postpurchase.recipes.install(REVIEW_FLOW, live=True)
        self.stdout.write(f"Flow {REVIEW_FLOW!r} is live.")
        for slug in NPS_FLOWS:
            postpurchase.recipes.install(slug, live=True)
        self.stdout.write(f"Flows {', '.join(NPS_FLOWS)} are live.")
        for slug in (WINBACK_FLOW, REPLENISHMENT_FLOW):
            postpurchase.recipes.install(slug, live=True)
            self.stdout.write(f"Flow {slug!r} is live (started by the date-trigger scan).")
        mail_dir = self.mail_dir()
        if mail_dir:
            Path(mail_dir).mkdir(parents=True, exist_ok=True)
            self.stdout.write(f"Emails are written to {mail_dir}")

    def serve(self, addrport: str) -> None:
        # The scheduler sends the delayed emails; a daemon thread dies with the server.
        stop = threading.Event()
        thread = threading.Thread(
            target=postpurchase.engine.run_scheduler,
            kwargs={"stop_event": stop, "interval": 5},
            name="postpurchase-scheduler",
            daemon=True,
        )
        thread.start()
        self.stdout.write(f"Scheduler running every 5 s. Shop: http://{addrport}/")
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            stop.set()

    def simulate(self) -> None:
        # 10:00 UTC today: a fixed time of day, so emails with a send window (daytime in
        # the customer's zone) land at the same offsets whenever the demo runs.
        start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=SIMULATED_DAYS)
        sent: list[Any] = []

        def on_sent(sender: Any, message: Any, **kwargs: Any) -> None:
            sent.append(message)

        # The thank-you goes out while place_order() commits, before we know the order,
        # so collect every message and pick this order's ones at the end.
        signals.message_sent.connect(on_sent, weak=False, dispatch_uid="demo-simulate")
        try:
            with postpurchase.clock.frozen_at(start) as clock:
                order = self.place_simulated_order(start)
                self.stdout.write(
                    f"Placed order {order.number} for {order.email} at {start:%Y-%m-%d %H:%M} "
                    f"UTC; replaying {SIMULATED_DAYS} days:"
                )
                delivered_at = start + SIMULATED_DELIVERY
                answered: list[Any] = []
                next_scan = start
                for _ in range(MAX_STEPS):
                    if clock.now >= next_scan:
                        # The periodic job "date triggers", once a simulated day.
                        scan_date_triggers()
                        next_scan = clock.now + SCAN_EVERY
                    postpurchase.engine.run_due()
                    answered += self.answer_surveys(sent, answered)
                    nxt = postpurchase.engine.next_due_at()
                    nxt = next_scan if nxt is None else min(nxt, next_scan)
                    if order.status != Order.Status.DELIVERED and (
                        nxt is None or nxt >= delivered_at
                    ):
                        clock.set(delivered_at)
                        set_status(order, Order.Status.DELIVERED)
                        continue
                    if nxt is None or nxt > end:
                        break
                    # Something due now that run_due() left (e.g. leased by a live
                    # scheduler): step forward a little instead of spinning.
                    clock.set(nxt if nxt > clock.now else clock.now + timedelta(minutes=1))
        finally:
            signals.message_sent.disconnect(dispatch_uid="demo-simulate")

        ref = get_adapter().order_ref(order)
        # Older demo orders may have mail falling due in the same window: leave it out.
        # A winback is about no order in particular (its order_ref is empty).
        ours = [
            m for m in sent if m.enrollment.order_ref in (ref, "") and m.to_email == order.email
        ]
        lines = [(m.sent_at or start, f"{m.to_email}  {m.subject}") for m in ours]
        lines.append((delivered_at, f"{order.email}  (order delivered)"))
        lines += [
            (r.created_at, f"{order.email}  (answered the survey: {r.score}, {r.category})")
            for r in answered
        ]
        for moment, text in sorted(lines, key=lambda line: line[0]):
            self.stdout.write(f"{format_offset(moment - start)}  {text}")
        self.stdout.write(f"{len(ours)} emails sent. Open them in {self.mail_dir() or 'the log'}.")

    def answer_surveys(self, sent: list[Any], answered: list[Any]) -> list[Any]:
        """Answer each NPS survey just sent, as the customer would on its landing page."""
        done = {r.message_id for r in answered}
        responses = []
        for message in sent:
            if message.pk in done or not isinstance(message.step.get_real_instance(), NPSStep):
                continue
            response, _ = record_answer(
                message, SIMULATED_SCORE, "Great backpack, thank you!", review_opt_in=True
            )
            responses.append(response)
        return responses

    def mail_dir(self) -> str:
        mail_dir = postpurchase.conf.get_setting("MAIL_DIR")
        return str(mail_dir) if mail_dir else ""

    def place_simulated_order(self, placed_at: datetime) -> Order:
        username, first, last, email, locale = next(c for c in CUSTOMERS if c[4] == "en")
        user = get_user_model().objects.get(username=username)
        products = Product.objects.in_bulk([sku for sku, _ in SIMULATED_CART], field_name="sku")
        lines = [CartLine(products[sku], qty) for sku, qty in SIMULATED_CART]
        customer = Customer(
            email=email,
            first_name=first,
            last_name=last,
            phone="+44 20 7946 0000",
            shipping_address="221B Baker Street, London NW1 6XE",
        )
        return place_order(lines, customer, user=user, locale=locale, placed_at=placed_at)
