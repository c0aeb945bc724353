"""Crash test: kill scheduler workers while they send, count lost and duplicated emails.

    python benchmarks/crash.py [--kill 9|term|both] [--n 5000] [--workers 2]
                               [--latency-ms 30] [--lease-seconds 5] [--kill-every 3]

On a fresh PostgreSQL database of its own it installs the "post-purchase-series" recipe
live and bulk-creates N contacts with N enrollments due now at the thank-you step (the
helpers of throughput.py), points Anymail's real Postmark backend at the loopback ESP
(benchmarks/esp_server.py, in a subprocess) and drains the lot with W worker processes
each running the real management command ``manage.py postpurchase_scheduler``.

Every few seconds (randomised, seeded) one worker is stopped and replaced:

--kill 9     SIGKILL, and a replacement starts at once (a crash, the OOM killer);
--kill term  SIGTERM, wait for it to exit, then start the replacement (what
             ``systemctl restart`` does; SIGKILL after --term-grace seconds).

It stops when no enrollment is left at the thank-you step (or after --timeout), stops
the workers, and compares what the ESP received (``GET /_stats``, receipts per
``Metadata["postpurchase_message"]``) with the Message rows. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import throughput  # noqa: E402  (its helpers: the database, the order snapshot)

PG_DB = "bench_postpurchase_crash"
PG_URL = os.environ.get("BENCH_CRASH_PG_URL", f"postgres://postgres@127.0.0.1:5432/{PG_DB}")
ESP_SCRIPT = HERE / "esp_server.py"
DEFAULT_SEND_CONCURRENCY = 16  # POSTPURCHASE["SEND_CONCURRENCY"] if the app has none yet

# The workers' settings: bench_settings plus the loopback Postmark and a short lease.
# Written to a temporary folder (nothing in the repository changes).
SETTINGS_MODULE = "crash_settings"
SETTINGS_SOURCE = '''"""Written by benchmarks/crash.py for its workers; removed afterwards."""

import json
import os

from bench_settings import *  # noqa: F403
from postpurchase.conf import DEFAULTS

EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": "bench-crash",
    "POSTMARK_API_URL": os.environ["BENCH_ESP_URL"],
    "REQUESTS_TIMEOUT": 30,
}
if "TAGS" not in DEFAULTS:
    # This version tags each email twice ("flow:<id>" and its category); Postmark takes
    # one tag, and Anymail raises AnymailUnsupportedFeature unless told to drop the rest.
    ANYMAIL["IGNORE_UNSUPPORTED_FEATURES"] = True
POSTPURCHASE = {
    **POSTPURCHASE,  # noqa: F405
    "LEASE_SECONDS": int(os.environ["BENCH_LEASE_SECONDS"]),
    **json.loads(os.environ.get("BENCH_POSTPURCHASE_EXTRA") or "{}"),
}
'''


def say(*args) -> None:
    print(*args, flush=True)


# --- the loopback ESP ------------------------------------------------------------------


class Esp:
    """benchmarks/esp_server.py in a subprocess; its port is the first line it prints."""

    def __init__(self, script: Path, latency_ms: float, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--port", "0", "--latency-ms", str(latency_ms)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = _read_line(self.proc, timeout=30)
        found = re.findall(r"\d+", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the ESP printed no port: {line!r} (log: {log})")
        self.port = int(found[-1])
        self.url = f"http://127.0.0.1:{self.port}/"
        # Keep reading whatever else it prints, so a full pipe never blocks it.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.log.write(line)

    def request(self, method: str, path: str, data: dict | None = None) -> dict:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            text = response.read().decode() or "{}"
        return json.loads(text)

    def receipts(self) -> dict[str, tuple[float, int]]:
        """{message id: (first receipt, epoch s; receipts)}, by the Postmark
        ``Metadata["postpurchase_message"]``."""
        stats = self.request("GET", "/_stats?messages=1")
        return {k: (v["first"], v["count"]) for k, v in stats["messages"].items()}

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, grace=5)
        self.log.close()


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            return proc.stdout.readline()
        if proc.poll() is not None:
            raise RuntimeError(f"the ESP exited with {proc.returncode} before printing its port")
    raise RuntimeError(f"the ESP printed nothing in {timeout:.0f}s")


# --- processes -------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen, sig: int, grace: float) -> tuple[float, bool]:
    """Send ``sig``, wait up to ``grace`` s, then SIGKILL. (seconds taken, killed?)"""
    start = time.monotonic()
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            return time.monotonic() - start, True
    return time.monotonic() - start, False


@dataclass
class Worker:
    proc: subprocess.Popen
    log: Path
    started: float


class Workers:
    """The scheduler processes: ``manage.py postpurchase_scheduler --interval``."""

    def __init__(self, env: dict, logdir: Path, interval: float):
        self.env, self.logdir, self.interval = env, logdir, interval
        self.started = 0
        self.pool: list[Worker] = []
        self.unexpected: list[tuple[int, int]] = []  # (pid, exit code) of self-exits

    def start(self) -> Worker:
        self.started += 1
        log = self.logdir / f"worker-{self.started:03d}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "postpurchase_scheduler"]
                + ["--interval", f"{self.interval:g}"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(proc, log, time.monotonic())
        self.pool.append(worker)
        return worker

    def replace_dead(self) -> None:
        for worker in list(self.pool):
            if worker.proc.poll() is not None:
                self.unexpected.append((worker.proc.pid, worker.proc.returncode))
                self.pool.remove(worker)
                self.start()

    def stop_all(self, grace: float) -> None:
        for worker in self.pool:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for worker in self.pool:
            stop_process(worker.proc, signal.SIGKILL, max(0.0, deadline - time.monotonic()))
        self.pool = []

    def tracebacks(self) -> tuple[int, str]:
        """How many tracebacks the worker logs hold, and the first one."""
        count, first = 0, ""
        for log in sorted(self.logdir.glob("worker-*.log")):
            text = log.read_text(errors="replace")
            count += text.count("Traceback (most recent call last)")
            if not first and "Traceback" in text:
                start = text.index("Traceback")
                first = f"{log.name}:\n" + text[max(0, start - 300) : start + 2500]
        return count, first


# --- the database ----------------------------------------------------------------------


def create_database() -> None:
    import psycopg

    with psycopg.connect(throughput.PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")


class Db:
    """Plain SQL on the benchmark database, for progress and the final count (the
    parent never sets Django up)."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchone()[0]

    def left_at(self, step_id: int) -> int:
        return self.one(
            "SELECT count(*) FROM postpurchase_enrollment WHERE step_id = %s AND status = %s",
            (step_id, "active"),
        )

    def sent(self) -> int:
        return self.one("SELECT count(*) FROM postpurchase_message WHERE status = 'sent'")

    def has_column(self, table: str, column: str) -> bool:
        return bool(
            self.one(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = %s AND column_name = %s",
                (table, column),
            )
        )

    def thank_yous(self, flow_id: int, step_id: int, marked: bool) -> list[tuple]:
        """(enrollment id, message id or None, status, marked a possible duplicate)."""
        mark = "m.possible_duplicate_at IS NOT NULL" if marked else "NULL"
        return self.conn.execute(
            f"SELECT e.id, m.id::text, m.status, {mark} FROM postpurchase_enrollment e "
            "LEFT JOIN postpurchase_message m ON m.enrollment_id = e.id AND m.step_id = %s "
            "WHERE e.flow_id = %s",
            (step_id, flow_id),
        ).fetchall()

    def close(self) -> None:
        self.conn.close()


# --- one run ---------------------------------------------------------------------------


@dataclass
class Kill:
    at: float  # seconds since the workers started
    epoch: float  # time.time() when the signal was sent
    pid: int
    stop_seconds: float
    forced: bool  # SIGTERM was not enough: SIGKILL after --term-grace


@dataclass
class Outcome:
    mode: str
    n: int
    seconds: float = 0.0
    drained: bool = False
    kills: list[Kill] = field(default_factory=list)
    unexpected_exits: list = field(default_factory=list)
    received: int = 0
    never_received: int = 0
    no_message: int = 0
    not_sent: int = 0
    lost: int = 0
    statuses: dict = field(default_factory=dict)
    duplicates: int = 0
    extra_receipts: int = 0
    max_receipts: int = 0
    strangers: int = 0  # ids the ESP received that are no thank-you of ours
    can_mark: bool = False
    marked_duplicates: int = 0
    marked_not_duplicated: int = 0
    per_kill: list[int] = field(default_factory=list)
    after_last_kill: int = 0
    tracebacks: int = 0
    first_traceback: str = ""
    send_concurrency: int = DEFAULT_SEND_CONCURRENCY
    load_before: float = 0.0  # 1-minute load average when the workers started
    load_after: float = 0.0


def send_concurrency(extra: dict) -> int:
    if "SEND_CONCURRENCY" in extra:
        return int(extra["SEND_CONCURRENCY"])
    from postpurchase.conf import DEFAULTS  # importable without configured settings

    return int(DEFAULTS.get("SEND_CONCURRENCY", DEFAULT_SEND_CONCURRENCY))


def run(mode: str, args, workdir: Path) -> Outcome:
    out = Outcome(mode=mode, n=args.n, send_concurrency=send_concurrency(args.extra))
    sig = signal.SIGKILL if mode == "9" else signal.SIGTERM
    rundir = workdir / f"kill-{mode}"
    rundir.mkdir()
    (workdir / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)

    create_database()
    os.environ["BENCH_DATABASE_URL"] = PG_URL  # seen by throughput's setup child
    os.environ["BENCH_BATCH_SIZE"] = str(args.batch_size)
    t = time.monotonic()
    info = throughput.call("setup_database", args.n)
    say(f"[kill {mode}] setup: {info} in {time.monotonic() - t:.1f}s")
    flow_id, step_id = info["flow"], info["first_step"]

    esp = Esp(args.esp_script, args.latency_ms, rundir / "esp.log")
    db = Db(PG_URL)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), str(HERE), str(workdir), os.environ.get("PYTHONPATH", "")]
        ),
        "PYTHONUNBUFFERED": "1",
        "BENCH_DATABASE_URL": PG_URL,
        "BENCH_BATCH_SIZE": str(args.batch_size),
        "BENCH_ESP_URL": esp.url,
        "BENCH_LEASE_SECONDS": str(args.lease_seconds),
        "BENCH_POSTPURCHASE_EXTRA": json.dumps(args.extra),
    }
    workers = Workers(env, rundir, args.interval)
    rng = random.Random(args.seed)

    def next_gap() -> float:
        return rng.uniform(args.kill_every * 0.5, args.kill_every * 1.5)

    out.load_before = os.getloadavg()[0]
    try:
        start = time.monotonic()
        for _ in range(args.workers):
            workers.start()
        deadline = start + args.timeout
        next_kill = start + next_gap()
        next_report = start + 5
        while time.monotonic() < deadline:
            left = db.left_at(step_id)
            if left == 0:
                out.drained = True
                break
            workers.replace_dead()
            now = time.monotonic()
            if mode != "none" and now >= next_kill and workers.pool:
                victim = workers.pool.pop(rng.randrange(len(workers.pool)))
                epoch = time.time()
                took, forced = stop_process(victim.proc, sig, args.term_grace)
                out.kills.append(Kill(now - start, epoch, victim.proc.pid, took, forced))
                workers.start()
                next_kill = time.monotonic() + next_gap()
            if now >= next_report:
                say(
                    f"[kill {mode}] {now - start:6.1f}s: {left} left at the thank-you, "
                    f"{db.sent()} sent, {len(out.kills)} kills"
                )
                next_report = now + 5
            time.sleep(0.25)
        out.seconds = time.monotonic() - start
        out.load_after = os.getloadavg()[0]
        workers.stop_all(args.term_grace)
        out.unexpected_exits = workers.unexpected
        time.sleep(0.5)
        receipts = esp.receipts()
        out.can_mark = db.has_column("postpurchase_message", "possible_duplicate_at")
        rows = db.thank_yous(flow_id, step_id, out.can_mark)
    finally:
        workers.stop_all(5)
        esp.stop()
        db.close()
    out.tracebacks, out.first_traceback = workers.tracebacks()
    tally(out, receipts, rows)
    return out


def tally(out: Outcome, receipts: dict[str, tuple[float, int]], rows: list[tuple]) -> None:
    counts = {k: n for k, (_, n) in receipts.items()}
    ours = set()
    duplicated = set()
    for _enrollment, message_id, status, marked in rows:
        out.statuses[status or "(no message)"] = out.statuses.get(status or "(no message)", 0) + 1
        if message_id is None:
            out.no_message += 1
            out.lost += 1
            continue
        ours.add(message_id)
        n = counts.get(message_id, 0)
        out.max_receipts = max(out.max_receipts, n)
        lost = False
        if n == 0:
            out.never_received += 1
            lost = True
        else:
            out.received += 1
        if status != "sent":
            out.not_sent += 1
            lost = True
        out.lost += lost
        if n > 1:
            out.duplicates += 1
            out.extra_receipts += n - 1
            duplicated.add(message_id)
            out.marked_duplicates += bool(marked)
        elif marked:
            out.marked_not_duplicated += 1
    out.strangers = len(set(counts) - ours)
    # A duplicate belongs to the first kill after its first receipt (the ESP stamps a
    # receipt when the request arrives, before its latency).
    out.per_kill = [0] * len(out.kills)
    epochs = [kill.epoch for kill in out.kills]
    for message_id in duplicated:
        k = bisect.bisect_left(epochs, receipts[message_id][0])
        if k < len(out.kills):
            out.per_kill[k] += 1
        else:
            out.after_last_kill += 1


# --- the report ------------------------------------------------------------------------


def label(mode: str) -> str:
    return {"9": "kill -9", "term": "SIGTERM", "none": "no kills"}[mode]


def report(outs: list[Outcome], args) -> None:
    def ok(flag: bool) -> str:
        return "yes" if flag else "NO"

    say(
        f"\nN={args.n} enrollments at the thank-you step, {args.workers} workers "
        f"(postpurchase_scheduler --interval {args.interval:g}), BATCH_SIZE {args.batch_size}, "
        f"LEASE_SECONDS {args.lease_seconds}, ESP latency {args.latency_ms:g} ms, a kill every "
        f"{args.kill_every * 0.5:g}-{args.kill_every * 1.5:g} s (seed {args.seed}), "
        f"{os.cpu_count()} CPUs"
    )
    if args.extra:
        say(f"POSTPURCHASE extras: {json.dumps(args.extra)}")
    say("")
    width = 34
    head = f"{'':<{width}}" + "".join(f"{label(o.mode):>12}" for o in outs)
    say(head)
    say("-" * len(head))

    def row(name: str, values) -> None:
        say(f"{name:<{width}}" + "".join(f"{v:>12}" for v in values))

    row("seconds", [f"{o.seconds:.1f}" + ("" if o.drained else " (timeout)") for o in outs])
    row("load average before / after", [f"{o.load_before:.1f}/{o.load_after:.1f}" for o in outs])
    row("kills", [len(o.kills) for o in outs])
    row("  of which SIGKILLed after grace", [sum(k.forced for k in o.kills) for o in outs])
    row(
        "  stop time max (s)",
        [f"{max((k.stop_seconds for k in o.kills), default=0):.2f}" for o in outs],
    )
    row("workers that exited by themselves", [len(o.unexpected_exits) for o in outs])
    row("messages expected", [o.n for o in outs])
    row("distinct received by the ESP", [o.received for o in outs])
    row("lost", [o.lost for o in outs])
    row("  no Message row", [o.no_message for o in outs])
    row("  never received by the ESP", [o.never_received for o in outs])
    row('  not "sent" in the DB', [o.not_sent for o in outs])
    row("duplicates (received > once)", [o.duplicates for o in outs])
    row("  extra receipts in all", [o.extra_receipts for o in outs])
    row("  most receipts of one message", [o.max_receipts for o in outs])
    row(
        "  marked possible_duplicate_at",
        [o.marked_duplicates if o.can_mark else "n/a" for o in outs],
    )
    row(
        "marked but not duplicated",
        [o.marked_not_duplicated if o.can_mark else "n/a" for o in outs],
    )
    row("max duplicates per kill", [max(o.per_kill, default=0) for o in outs])
    row("  duplicates after the last kill", [o.after_last_kill for o in outs])
    row("received, not one of ours", [o.strangers for o in outs])
    row("tracebacks in worker logs", [o.tracebacks for o in outs])
    say("")
    for o in outs:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(o.statuses.items()))
        say(f"{label(o.mode)}: thank-you statuses: {statuses}")
        if o.kills:
            say(f"{label(o.mode)}: duplicates per kill: " + " ".join(str(n) for n in o.per_kill))
        if not o.can_mark:
            say(
                f"{label(o.mode)}: cannot check the marking: Message.possible_duplicate_at "
                "does not exist in this version of the app"
            )
        if o.unexpected_exits:
            say(f"{label(o.mode)}: exited by themselves (pid, code): {o.unexpected_exits}")
        if not o.drained:
            say(f"{label(o.mode)}: NOT drained within {args.timeout:g}s")
    say("\ntargets")
    for o in outs:
        bound = 2 * o.send_concurrency
        if o.mode == "9":
            marked = ok(o.marked_duplicates == o.duplicates) if o.can_mark else "cannot check"
            checks = [
                ("0 lost", ok(o.lost == 0)),
                ("every duplicate marked", marked),
                (
                    f"duplicates per kill <= {bound} (2 x SEND_CONCURRENCY)",
                    ok(max(o.per_kill, default=0) <= bound),
                ),
            ]
        else:  # SIGTERM, and the baseline without kills
            checks = [("0 lost", ok(o.lost == 0)), ("0 duplicates", ok(o.duplicates == 0))]
        checks.append(("drained in time", ok(o.drained)))
        say(f"  {label(o.mode)}: " + "; ".join(f"{name}: {flag}" for name, flag in checks))
    for o in outs:
        if o.first_traceback:
            say(f"\n{label(o.mode)}: first traceback in the worker logs ({o.tracebacks} in all):")
            say(o.first_traceback.rstrip())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kill",
        choices=["9", "term", "none", "both", "all"],
        default="both",
        help="both: 9 then term; all: none (a baseline without kills), 9, term",
    )
    parser.add_argument("--n", type=int, default=5000, help="enrollments (emails)")
    parser.add_argument("--workers", type=int, default=2, help="scheduler processes")
    parser.add_argument("--interval", type=float, default=0.2, help="the command's --interval")
    parser.add_argument("--latency-ms", type=float, default=30, help="loopback ESP latency")
    parser.add_argument(
        "--lease-seconds", type=int, default=5, help='POSTPURCHASE["LEASE_SECONDS"]'
    )
    parser.add_argument("--batch-size", type=int, default=200, help='POSTPURCHASE["BATCH_SIZE"]')
    parser.add_argument(
        "--kill-every", type=float, default=3.0, help="mean seconds between kills (0.5x-1.5x)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill times and victims")
    parser.add_argument(
        "--term-grace", type=float, default=30, help="seconds a SIGTERMed worker gets to exit"
    )
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many s")
    parser.add_argument(
        "--postpurchase",
        dest="extra",
        type=json.loads,
        default={},
        help="extra POSTPURCHASE keys as JSON, e.g. '{\"SEND_CONCURRENCY\": 8}'",
    )
    parser.add_argument("--esp-script", type=Path, default=ESP_SCRIPT, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args(argv)
    if not args.esp_script.exists():
        parser.error(f"{args.esp_script} does not exist")
    modes = {"both": ["9", "term"], "all": ["none", "9", "term"]}.get(args.kill, [args.kill])
    workdir = Path(tempfile.mkdtemp(prefix="bench_crash_"))
    try:
        outs = [run(mode, args, workdir) for mode in modes]
        report(outs, args)
    finally:
        if args.keep:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
