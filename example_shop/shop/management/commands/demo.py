"""``python manage.py demo``: a ready shop with the post-purchase series live.

``--simulate`` skips the server: it places one order and replays the next 30 days on a
simulated clock, printing every email the series sends and when.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

import postpurchase.clock
import postpurchase.engine
import postpurchase.recipes
from postpurchase import signals
from postpurchase.adapters import get_adapter

from ...cart import CartLine
from ...checkout import Customer, place_order
from ...demo_data import CUSTOMERS, DEMO_PASSWORD, load_demo_data
from ...models import Order, Product

FLOW = "post-purchase-series"
REVIEW_FLOW = "review-thank-you"
SIMULATED_DAYS = 30
# What the simulated customer buys: a backpack and a rain cover for it.
SIMULATED_CART = [("BP-TRK-45", 1), ("AC-COVER-L", 1)]
MAX_STEPS = 10_000


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

    def handle(self, *args: Any, **options: Any) -> None:
        self.setup()
        if options["simulate"]:
            self.simulate()
        elif not options["no_server"]:
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
        # A review written on a product page earns the promised coupon (D1 step 4).
        postpurchase.recipes.install(REVIEW_FLOW, live=True)
        self.stdout.write(f"Flow {REVIEW_FLOW!r} is live.")
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
        start = timezone.now().replace(microsecond=0)
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
                for _ in range(MAX_STEPS):
                    postpurchase.engine.run_due()
                    nxt = postpurchase.engine.next_due_at()
                    if nxt is None or nxt > end:
                        break
                    # Something due now that run_due() left (e.g. leased by a live
                    # scheduler): step forward a little instead of spinning.
                    clock.set(nxt if nxt > clock.now else clock.now + timedelta(minutes=1))
        finally:
            signals.message_sent.disconnect(dispatch_uid="demo-simulate")

        ref = get_adapter().order_ref(order)
        # Older demo orders may have mail falling due in the same window: leave it out.
        ours = [m for m in sent if m.enrollment.order_ref == ref]
        for message in sorted(ours, key=lambda m: m.sent_at or start):
            offset = format_offset((message.sent_at or start) - start)
            self.stdout.write(f"{offset}  {message.to_email}  {message.subject}")
        self.stdout.write(f"{len(ours)} emails sent. Open them in {self.mail_dir() or 'the log'}.")

    def mail_dir(self) -> str:
        mail_dir = settings.POSTPURCHASE.get("MAIL_DIR")
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
