"""What a slow ESP costs the shop's checkout, and how soon the thank-you reaches the ESP.

    python benchmarks/checkout_latency.py [--execution inline|celery|both] [--orders 40]
                                          [--latencies 0,1000] [--db postgres|sqlite]

The example shop (``manage.py demo --no-server`` on a fresh database: catalog, the live
"post-purchase-series" and the other demo flows) is served by ``manage.py runserver
--noreload`` in its own process on 127.0.0.1, with Anymail's real Postmark backend
pointed at the loopback ESP (benchmarks/esp_server.py, another process) and
POSTPURCHASE["EXECUTION"] "inline" (the embedded default) or "celery" (then a real
Celery worker on Redis runs the work, and the shop only enqueues it).

For each ESP latency it places the orders one after another through the real pages,
each as a new guest browser: GET / (the CSRF cookie and the add-to-cart forms), POST
two products to /cart/add/, GET /checkout/ (the form's CSRF token), then the timed POST
/checkout/ (until its 302 to the order page). It then waits for the ESP to receive that
order's thank-you (the Message row found by the order's unique email address, its id
looked up in the ESP's receipts) before placing the next order.

checkout          the POST /checkout/ round trip, as the customer waits for it
order -> receipt  from sending that POST to the ESP's first receipt of the thank-you
                  (the ESP stamps a request when it arrives, before its latency)
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from crash import ESP_SCRIPT, Esp, stop_process  # noqa: E402

PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_DB = "bench_postpurchase_checkout"
PG_URL = os.environ.get("BENCH_CHECKOUT_PG_URL", f"postgres://postgres@127.0.0.1:5432/{PG_DB}")
BROKER_URL = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")

TARGET_CHECKOUT_DELTA_MS = 50.0
TARGET_RECEIPT_P95_MS = 2000.0

SETTINGS_MODULE = "checkout_settings"
SETTINGS_SOURCE = '''"""Written by benchmarks/checkout_latency.py; removed afterwards."""

import os

from example_shop.settings import *  # noqa: F403
from postpurchase.conf import DEFAULTS

EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": "bench-checkout",
    "POSTMARK_API_URL": os.environ["BENCH_ESP_URL"],
}
if "TAGS" not in DEFAULTS:
    # This version tags each email twice ("flow:<id>" and its category); Postmark takes
    # one tag, and Anymail raises AnymailUnsupportedFeature unless told to drop the rest.
    ANYMAIL["IGNORE_UNSUPPORTED_FEATURES"] = True
# A copy of every email on disk is a demo feature; a shop in production has none.
POSTPURCHASE = {**POSTPURCHASE, "MAIL_DIR": None}  # noqa: F405
'''

FORM = {
    "first_name": "Olga",
    "last_name": "Ivanova",
    "phone": "+7 900 123-45-67",
    "shipping_method": "courier",
    "shipping_address": "5 Forest St., Moscow",
    "payment_method": "card",
    "coupon": "",
}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CART_ADD = re.compile(r'action="(/cart/add/\d+/)"')


def say(*args) -> None:
    print(*args, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the shop and its database ---------------------------------------------------------


class ShopDb:
    """The Message rows, read with plain SQL (the parent never sets Django up)."""

    def __init__(self, db: str, var_dir: Path):
        if db == "postgres":
            import psycopg

            self.conn = psycopg.connect(PG_URL, autocommit=True)
            self.mark = "%s"
        else:
            self.conn = sqlite3.connect(var_dir / "db.sqlite3", timeout=30, isolation_level=None)
            self.mark = "?"

    def message_ids(self, email: str) -> list[str]:
        """Ids of the messages to ``email`` (UUIDs with dashes, as the ESP keys them)."""
        rows = self.conn.execute(
            f"SELECT id FROM postpurchase_message WHERE to_email = {self.mark}", (email,)
        ).fetchall()
        return [str(uuid.UUID(str(row[0]))) for row in rows]

    def close(self) -> None:
        self.conn.close()


def create_database(db: str) -> None:
    if db != "postgres":
        return
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")


def purge_broker() -> None:
    """Empty the Celery queue in the broker's database (only the queue's own keys)."""
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    keys = [b"celery", *client.scan_iter(match="celery\x06\x16*", count=100)]
    client.delete(*keys)
    client.close()


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s")


# --- one customer's checkout -----------------------------------------------------------


@dataclass
class Order:
    email: str
    checkout_ms: float
    receipt_ms: float | None = None  # None: the ESP never received the thank-you


def place_order(base: str, email: str):
    """A new guest: home page, two products into the cart, the checkout form, the timed
    POST. Returns (checkout seconds, time.time() when the POST was sent)."""
    import requests

    with requests.Session() as browser:
        home = browser.get(base + "/", timeout=30)
        home.raise_for_status()
        actions = list(dict.fromkeys(CART_ADD.findall(home.text)))[:2]
        if len(actions) < 2:
            raise RuntimeError("the home page lists fewer than two products to add")
        for action in actions:
            token = browser.cookies["csrftoken"]
            added = browser.post(
                base + action,
                data={"qty": 1, "csrfmiddlewaretoken": token},
                allow_redirects=False,
                timeout=30,
            )
            if added.status_code != 302:
                raise RuntimeError(f"POST {action}: {added.status_code}")
        form = browser.get(base + "/checkout/", timeout=30)
        form.raise_for_status()
        found = CSRF_INPUT.search(form.text)
        if not found:
            raise RuntimeError("no CSRF token in the checkout form")
        data = {**FORM, "email": email, "csrfmiddlewaretoken": found.group(1)}
        sent_at = time.time()
        t = time.perf_counter()
        response = browser.post(
            base + "/checkout/",
            data=data,
            allow_redirects=False,
            timeout=120,
            headers={"Referer": base + "/checkout/"},
        )
        took = time.perf_counter() - t
        location = response.headers.get("Location", "")
        if response.status_code != 302 or "/orders/" not in location:
            raise RuntimeError(
                f"checkout for {email}: {response.status_code} {location!r}\n{response.text[:2000]}"
            )
    return took, sent_at


def receipt_after(esp: Esp, db: ShopDb, email: str, sent_at: float, timeout: float):
    """Seconds from ``sent_at`` to the ESP's first receipt of the thank-you to ``email``,
    or None if it has not arrived within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    ids: list[str] = []
    while time.monotonic() < deadline:
        if not ids:
            ids = db.message_ids(email)
        if ids:
            received = esp.receipts()
            firsts = [received[i][0] for i in ids if i in received]
            if firsts:
                return min(firsts) - sent_at
        time.sleep(0.01)
    return None


# --- one execution mode ----------------------------------------------------------------


@dataclass
class Series:
    execution: str
    latency: float
    orders: list[Order] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before / after

    def checkout(self) -> list[float]:
        return [o.checkout_ms for o in self.orders]

    def receipts(self) -> list[float]:
        return [o.receipt_ms for o in self.orders if o.receipt_ms is not None]

    @property
    def missing(self) -> int:
        return sum(o.receipt_ms is None for o in self.orders)


class Stack:
    """ESP, web server and (for celery) a worker, started in that order; stopped by PID."""

    def __init__(self, execution: str, args, workdir: Path):
        self.execution, self.args, self.workdir = execution, args, workdir
        self.logs = workdir / execution
        self.logs.mkdir()
        self.var_dir = self.logs / "var"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.esp: Esp | None = None

    def env(self) -> dict:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), str(self.workdir), os.environ.get("PYTHONPATH", "")]
            ),
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "0",
            "EXAMPLE_SHOP_VAR_DIR": str(self.var_dir),
            "POSTPURCHASE_EXECUTION": self.execution,
            "CELERY_BROKER_URL": BROKER_URL if self.execution == "celery" else "memory://",
            "BENCH_ESP_URL": self.esp.url,
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        if self.args.db == "postgres":
            env["DATABASE_URL"] = PG_URL
        return env

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> str:
        (self.workdir / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
        create_database(self.args.db)
        self.esp = Esp(self.args.esp_script, 0, self.logs / "esp.log")
        t = time.monotonic()
        setup = subprocess.run(
            [sys.executable, "manage.py", "demo", "--no-server"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if setup.returncode:
            raise RuntimeError(f"manage.py demo --no-server failed:\n{setup.stderr[-3000:]}")
        say(f"[{self.execution}] demo data and flows in {time.monotonic() - t:.1f}s")
        if self.execution == "celery":
            purge_broker()
            worker = self.spawn(
                "celery",
                [sys.executable, "-m", "celery", "-A", "example_shop", "worker",
                 f"--pool={self.args.celery_pool}", f"--concurrency={self.args.celery_concurrency}",
                 "--loglevel=info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            )  # fmt: skip
            wait_for(lambda: " ready." in self.log("celery"), 60, "the Celery worker", worker)
        port = free_port()
        server = self.spawn(
            "runserver",
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: self._up(base), 60, "runserver", server)
        return base

    @staticmethod
    def _up(base: str) -> bool:
        import requests

        try:
            return requests.get(base + "/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"
                )

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            stop_process(proc, signal.SIGTERM, grace=20)
        self.procs = []
        if self.esp is not None:
            self.esp.stop()
            self.esp = None


def measure(execution: str, args, workdir: Path) -> list[Series]:
    stack = Stack(execution, args, workdir)
    out: list[Series] = []
    try:
        base = stack.start()
        db = ShopDb(args.db, stack.var_dir)
        try:
            for latency in args.latencies:
                stack.esp.request("POST", "/_config", {"latency_ms": latency})
                stack.esp.request("POST", "/_reset", {})
                series = Series(execution, latency)
                load_before = os.getloadavg()[0]
                for i in range(args.warmup + args.orders):
                    stack.alive()
                    email = f"bench-{execution}-{latency:g}ms-{i}@example.com"
                    took, sent_at = place_order(base, email)
                    receipt = receipt_after(stack.esp, db, email, sent_at, args.receipt_timeout)
                    if i >= args.warmup:
                        series.orders.append(
                            Order(email, took * 1000, None if receipt is None else receipt * 1000)
                        )
                series.load = (load_before, os.getloadavg()[0])
                out.append(series)
                say(
                    f"[{execution}] ESP {latency:g} ms: checkout p95 "
                    f"{percentile(series.checkout(), 95):.0f} ms, order -> receipt p95 "
                    f"{percentile(series.receipts(), 95):.0f} ms, {series.missing} missing"
                )
        finally:
            db.close()
    finally:
        stack.stop()
        errors = [n for n in ("runserver", "celery") if "Traceback" in stack.log(n)]
        for name in errors:
            text = stack.log(name)
            start = text.index("Traceback")
            say(f"[{execution}] {name} logged a traceback:\n{text[start : start + 3000]}")
    return out


# --- the report ------------------------------------------------------------------------


def report(results: list[Series], args) -> None:
    def ok(flag: bool) -> str:
        return "yes" if flag else "NO"

    def ms(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.0f}"

    say(
        f"\n{args.orders} orders per line, placed one after another through runserver "
        f"(+{args.warmup} warm-up orders not counted), database {args.db}, "
        f"{os.cpu_count()} CPUs; times in ms; load: 1-minute load average before/after\n"
    )
    head = (
        f"{'execution':<10} {'ESP latency':>11} {'orders':>6} | {'checkout p50':>12} "
        f"{'p95':>6} {'max':>6} | {'order->receipt p50':>18} {'p95':>6} {'max':>6} "
        f"{'missing':>7} | {'load':>7}"
    )
    say(head)
    say("-" * len(head))
    for s in results:
        c, r = s.checkout(), s.receipts()
        say(
            f"{s.execution:<10} {s.latency:>8g} ms {len(s.orders):>6} | "
            f"{ms(percentile(c, 50)):>12} {ms(percentile(c, 95)):>6} {ms(max(c)):>6} | "
            f"{ms(percentile(r, 50)):>18} {ms(percentile(r, 95)):>6} "
            f"{ms(max(r) if r else math.nan):>6} {s.missing:>7} | "
            f"{s.load[0]:>3.1f}/{s.load[1]:<3.1f}"
        )
    say("\ntargets")
    for execution in dict.fromkeys(s.execution for s in results):
        mine = {s.latency: s for s in results if s.execution == execution}
        checks = []
        low, high = min(mine), max(mine)
        if low != high:
            delta = percentile(mine[high].checkout(), 95) - percentile(mine[low].checkout(), 95)
            checks.append(
                f"checkout p95 at {high:g} ms within {TARGET_CHECKOUT_DELTA_MS:g} ms of "
                f"its p95 at {low:g} ms: {ok(delta <= TARGET_CHECKOUT_DELTA_MS)} "
                f"({delta:+.0f} ms)"
            )
        for latency, s in mine.items():
            p95 = percentile(s.receipts(), 95)
            good = s.missing == 0 and p95 < TARGET_RECEIPT_P95_MS
            checks.append(
                f"order -> receipt p95 < {TARGET_RECEIPT_P95_MS:g} ms at {latency:g} ms: "
                f"{ok(good)} ({ms(p95)} ms, {s.missing} missing)"
            )
        say(f"  {execution}:")
        for line in checks:
            say(f"    {line}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execution", choices=["inline", "celery", "both"], default="inline")
    parser.add_argument("--orders", type=int, default=40, help="measured orders per latency")
    parser.add_argument("--warmup", type=int, default=3, help="orders first, not measured")
    parser.add_argument(
        "--latencies",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.0, 1000.0],
        help="ESP latencies in ms, comma-separated",
    )
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--receipt-timeout", type=float, default=30, help="seconds to wait for each receipt"
    )
    parser.add_argument("--celery-pool", default="prefork", help="the worker's --pool")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--esp-script", type=Path, default=ESP_SCRIPT, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args(argv)
    executions = ["inline", "celery"] if args.execution == "both" else [args.execution]
    workdir = Path(tempfile.mkdtemp(prefix="bench_checkout_"))
    try:
        results = [s for execution in executions for s in measure(execution, args, workdir)]
        report(results, args)
    finally:
        if args.keep:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
