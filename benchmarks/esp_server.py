"""A stand-in for Postmark's email API on 127.0.0.1, for benchmarks and tests.

It speaks enough of Postmark for Anymail's real backend
(``anymail.backends.postmark.EmailBackend``) pointed at it with
``ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token",
"POSTMARK_API_URL": "http://127.0.0.1:<port>/"}``:

``POST /email``        one message (a JSON object); answers
                       ``{"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}``
``POST /email/batch``  a JSON list of messages; answers a list of such objects

HTTP/1.1 with keep-alive (a client can reuse one connection), one daemon thread per
connection. Options (also changeable at run time with ``POST /_config``):

latency_ms        sleep this long before answering any API request
connect_delay_ms  extra sleep on the first API request of each new TCP connection (as a
                  TLS handshake would cost)
rate_429          fraction of API requests answered 429 with a ``Retry-After`` header
retry_after       the ``Retry-After`` value, in seconds
rate_5xx          fraction of API requests answered 503
seed              makes the injected failures deterministic: whether the k-th attempt of
                  a request fails depends only on (seed, its message keys, k)
token             if set, the ``X-Postmark-Server-Token`` a request must carry (401 otherwise)

A message's key is its ``Metadata["postpurchase_message"]`` (what postpurchase sets),
else a hash of To + Subject. Counters since the last reset: API requests (by status and
endpoint), new TCP connections (those whose first request is an API request; the
``/_...`` control requests are not counted), the peak of requests in flight, messages
accepted, distinct message keys accepted, keys accepted more than once, messages
rejected by injection, and per key (``"messages": {key: {"first": epoch s, "count": n}}``)
the first receipt time and the count. Control: ``GET /_stats`` (``?messages=0`` leaves
the per-key mapping out), ``POST /_reset`` (counters), ``POST /_config`` (options, JSON).

In a process::

    server, port = start_server(latency_ms=100)
    ...  server.stats() / server.reset() / server.configure(latency_ms=20)
    server.stop()

As a program (prints the port on its first stdout line, serves until SIGTERM or
``--max-seconds``)::

    python benchmarks/esp_server.py --port 0 --latency-ms 100 [--connect-delay-ms 30]
           [--rate-429 0.01 --retry-after 2] [--rate-5xx 0.01] [--seed 1]

Self-benchmark (the server in a subprocess, a load generator of requests.Session threads
in this one)::

    python benchmarks/esp_server.py --selftest [--seconds 3] [--threads 1,16,64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"

DEFAULT_CONFIG: dict = {
    "latency_ms": 0.0,
    "connect_delay_ms": 0.0,
    "rate_429": 0.0,
    "rate_5xx": 0.0,
    "retry_after": 1,
    "seed": 0,
    "token": None,
}

API_PATHS = {"/email": "single", "/email/batch": "batch"}
MAX_BODY = 50 * 1024 * 1024  # Postmark's own limit is 50 MB per batch call


def _uniform(seed, key: str, attempt: int) -> float:
    """A number in [0, 1) that depends only on (seed, key, attempt)."""
    digest = hashlib.blake2b(f"{seed}:{key}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def message_key(message: dict) -> str:
    metadata = message.get("Metadata")
    if isinstance(metadata, dict) and metadata.get("postpurchase_message"):
        return str(metadata["postpurchase_message"])
    to_subject = f"{message.get('To', '')}\0{message.get('Subject', '')}"
    return "h:" + hashlib.sha1(to_subject.encode(), usedforsecurity=False).hexdigest()[:20]


def validate_config(changes: dict) -> dict:
    """The checked subset of config ``changes``; raises ValueError naming the bad key."""
    if not isinstance(changes, dict):
        raise ValueError("config must be a JSON object")
    out = {}
    for key, value in changes.items():
        if key not in DEFAULT_CONFIG:
            raise ValueError(f"unknown option {key!r}; known: {', '.join(DEFAULT_CONFIG)}")
        if key in ("latency_ms", "connect_delay_ms"):
            if not isinstance(value, int | float) or not 0 <= value <= 60_000:
                raise ValueError(f"{key} must be a number of ms in [0, 60000]; got {value!r}")
            value = float(value)
        elif key in ("rate_429", "rate_5xx"):
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{key} must be a fraction in [0, 1]; got {value!r}")
            value = float(value)
        elif key == "retry_after":
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"retry_after must be a whole number of seconds; got {value!r}")
        elif key == "token" and value is not None and not isinstance(value, str):
            raise ValueError(f"token must be a string or null; got {value!r}")
        out[key] = value
    return out


class _Stats:
    """Counters since the last reset. Every method is called with the server's lock held."""

    def __init__(self) -> None:
        self.since = time.time()
        self.cpu_at_reset = time.process_time()
        self.requests = 0
        self.by_status: Counter = Counter()
        self.by_endpoint: Counter = Counter()
        self.connections = 0
        self.in_flight = 0
        self.in_flight_max = 0
        self.bytes_received = 0
        self.accepted = 0  # messages in requests answered 200
        self.rejected_429 = 0  # messages in requests answered 429
        self.rejected_5xx = 0
        self.messages: dict[str, list] = {}  # key -> [first receipt (epoch s), count]
        self.attempts: Counter = Counter()  # injection key -> requests seen
        self.first_receipt: float | None = None
        self.last_receipt: float | None = None

    def summary(self, with_messages: bool) -> dict:
        out = {
            "since": self.since,
            "elapsed": time.time() - self.since,
            "cpu_seconds": time.process_time() - self.cpu_at_reset,
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_endpoint": dict(self.by_endpoint),
            "connections": self.connections,
            "in_flight_max": self.in_flight_max,
            "bytes_received": self.bytes_received,
            "messages_received": self.accepted,
            "distinct_messages": len(self.messages),
            "duplicated_messages": sum(1 for _, c in self.messages.values() if c > 1),
            "extra_receipts": sum(c - 1 for _, c in self.messages.values()),
            "rejected_429": self.rejected_429,
            "rejected_5xx": self.rejected_5xx,
            "first_receipt": self.first_receipt,
            "last_receipt": self.last_receipt,
        }
        if with_messages:
            out["messages"] = {k: {"first": f, "count": c} for k, (f, c) in self.messages.items()}
        return out


class ESPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 512  # socketserver's default of 5 drops bursts of new connections

    def __init__(self, port: int = 0, **options) -> None:
        self.lock = threading.Lock()
        self.config = {**DEFAULT_CONFIG, **validate_config(options)}
        self._stats = _Stats()
        self.thread: threading.Thread | None = None
        super().__init__((HOST, port), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def configure(self, **changes) -> dict:
        checked = validate_config(changes)
        with self.lock:
            config = {**self.config, **checked}
            if config["rate_429"] + config["rate_5xx"] > 1:
                raise ValueError("rate_429 + rate_5xx must not exceed 1")
            self.config = config  # replaced whole: handlers read one consistent dict
            return dict(config)

    def reset(self) -> None:
        with self.lock:
            self._stats = _Stats()

    def stats(self, messages: bool = False) -> dict:
        with self.lock:
            out = self._stats.summary(messages)
            out["config"] = dict(self.config)
            return out

    def stop(self) -> None:
        if self.thread is not None:
            self.shutdown()
            self.thread.join(timeout=5)
            self.thread = None
        self.server_close()


def start_server(port: int = 0, **options) -> tuple[ESPServer, int]:
    """Serve on 127.0.0.1 in a daemon thread; returns (server, port). ``server.stop()``."""
    server = ESPServer(port, **options)
    server.thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="esp-server", daemon=True
    )
    server.thread.start()
    return server, server.port


def stop(server: ESPServer) -> None:
    server.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client asks to close
    disable_nagle_algorithm = True  # headers and body go out as two writes
    timeout = 300  # an idle kept-alive connection is dropped after this
    server_version = "esp-loopback/1"
    server: ESPServer

    def setup(self) -> None:
        super().setup()
        self.fresh = True  # no request served on this connection yet

    def log_message(self, format, *args) -> None:
        pass

    # --- plumbing --------------------------------------------------------------------

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(411, {"ErrorCode": 411, "Message": "Content-Length required."})
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._reply(413, {"ErrorCode": 413, "Message": "Bad Content-Length."})
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, payload, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # --- routes ----------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_stats":
            flag = parse_qs(url.query).get("messages", ["1"])[0]
            self._reply(200, self.server.stats(messages=flag not in ("0", "false", "no")))
        else:
            self._reply(404, {"ErrorCode": 404, "Message": f"No route for GET {url.path}"})
        self.fresh = False

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if body is None:
            return
        if path in API_PATHS:
            self._api(API_PATHS[path], body)
        elif path == "/_reset":
            self.server.reset()
            self._reply(200, {"ok": True})
        elif path == "/_config":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("config must be a JSON object")
                self._reply(200, self.server.configure(**changes))
            except ValueError as exc:
                self._reply(400, {"error": str(exc)})
        else:
            self._reply(404, {"ErrorCode": 404, "Message": f"No route for POST {path}"})
        self.fresh = False

    def _api(self, endpoint: str, body: bytes) -> None:
        server = self.server
        arrived = time.time()
        config = server.config
        first_on_connection, self.fresh = self.fresh, False
        with server.lock:
            stats = server._stats
            stats.requests += 1
            stats.by_endpoint[endpoint] += 1
            stats.bytes_received += len(body)
            stats.connections += first_on_connection
            stats.in_flight += 1
            stats.in_flight_max = max(stats.in_flight_max, stats.in_flight)
        try:
            status, payload, headers, messages = self._answer(endpoint, body, config)
            delay = config["latency_ms"]
            if first_on_connection:
                delay += config["connect_delay_ms"]
            if delay:
                time.sleep(delay / 1000)
            self._record(stats, status, messages, arrived)
            self._reply(status, payload, headers)
        finally:
            with server.lock:
                stats.in_flight -= 1

    def _answer(self, endpoint: str, body: bytes, config: dict):
        """(status, JSON payload, extra headers, [message keys]) for an API request."""
        token = config["token"]
        if token is not None and self.headers.get("X-Postmark-Server-Token") != token:
            return 401, {"ErrorCode": 10, "Message": "Invalid Server token."}, {}, []
        try:
            data = json.loads(body)
        except ValueError:
            return 422, {"ErrorCode": 402, "Message": "Received invalid JSON input."}, {}, []
        messages = data if endpoint == "batch" else [data]
        if (
            (endpoint == "batch" and not isinstance(data, list))
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            return 422, {"ErrorCode": 402, "Message": "Unexpected JSON shape."}, {}, []
        keys = [message_key(m) for m in messages]
        injection_key = keys[0] if len(keys) == 1 else "|".join(sorted(keys))
        with self.server.lock:
            stats = self.server._stats
            stats.attempts[injection_key] += 1
            attempt = stats.attempts[injection_key]
        draw = _uniform(config["seed"], injection_key, attempt)
        if draw < config["rate_429"]:
            # Anymail raises on any non-2xx but 422 without reading the body.
            headers = {"Retry-After": str(config["retry_after"])}
            return 429, {"ErrorCode": 429, "Message": "Rate limit exceeded."}, headers, keys
        if draw < config["rate_429"] + config["rate_5xx"]:
            return 503, {"ErrorCode": 503, "Message": "Service unavailable."}, {}, keys
        submitted = datetime.now(UTC).isoformat()
        answers = [
            {
                "To": m.get("To", ""),
                "SubmittedAt": submitted,
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            }
            for m in messages
        ]
        return 200, (answers if endpoint == "batch" else answers[0]), {}, keys

    def _record(self, stats: _Stats, status: int, keys: list[str], arrived: float) -> None:
        with self.server.lock:
            stats.by_status[status] += 1
            if status == 200:
                stats.accepted += len(keys)
                for key in keys:
                    seen = stats.messages.get(key)
                    if seen is None:
                        stats.messages[key] = [arrived, 1]
                    else:
                        seen[1] += 1
                if stats.first_receipt is None:
                    stats.first_receipt = arrived
                stats.last_receipt = max(stats.last_receipt or arrived, arrived)
            elif status == 429:
                stats.rejected_429 += len(keys)
            elif status >= 500:
                stats.rejected_5xx += len(keys)


# --- control from another process --------------------------------------------------------


def control(port: int, path: str, payload: dict | None = None) -> dict:
    """GET (payload None) or POST a control endpoint of a server on 127.0.0.1:port."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with _DIRECT.open(request, timeout=10) as response:
        return json.loads(response.read())


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def spawn(**options) -> tuple[subprocess.Popen, int]:
    """Start this file as a server subprocess; returns (process, port)."""
    argv = [sys.executable, __file__, "--port", "0"]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"esp_server did not print its port (got {line!r})")
    return proc, int(line)


# --- self-benchmark ----------------------------------------------------------------------


def _payload_template() -> bytes:
    """A Postmark JSON body the size of postpurchase's thank-you email (30 kB HTML, 3 kB
    text), with ``@@ID@@`` where each request puts its own message id (twice)."""
    row = (
        '<tr><td style="padding:8px 0;font-family:Arial,sans-serif;font-size:14px;'
        'color:#1b1b1b">Arbat city backpack 20 L</td><td align="right">4 990,00 RUB</td></tr>'
    )
    html = "<html><body><table>" + row * 200 + "</table></body></html>"
    data = {
        "From": "Backpack Shop <shop@example.com>",
        "To": "Anna Smith <customer1@example.com>",
        "Subject": "Thank you for your order 100001",
        "TextBody": "Arbat city backpack 20 L  4 990,00 RUB\n" * 80,
        "HtmlBody": html[:30_000],
        "Headers": [{"Name": "Idempotency-Key", "Value": "@@ID@@"}],
        "Metadata": {"postpurchase_message": "@@ID@@"},
        "Tag": "flow:1",
    }
    return json.dumps(data).encode()


def _load(
    port: int, threads: int, seconds: float, reuse: bool = True, max_per_thread: int = 200_000
) -> dict:
    """threads clients posting for ``seconds``, each through one kept-alive
    requests.Session (``reuse``) or a new connection per request."""
    import requests

    body = _payload_template()
    prefix, rest = body.split(b"@@ID@@", 1)
    middle, suffix = rest.split(b"@@ID@@", 1)
    url = f"http://{HOST}:{port}/email"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Postmark-Server-Token": "test-token",
    }
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    deadline = [0.0]

    def client(index: int) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment
        barrier.wait()
        for _ in range(max_per_thread):
            t = time.perf_counter()
            if t >= deadline[0]:
                break
            mid = str(uuid.uuid4()).encode()
            data = prefix + mid + middle + mid + suffix
            try:
                if reuse:
                    response = session.post(url, data=data, headers=headers, timeout=30)
                else:  # a session (a connection) of its own
                    with requests.Session() as fresh:
                        fresh.trust_env = False
                        response = fresh.post(url, data=data, headers=headers, timeout=30)
                ok = response.status_code == 200 and response.json()["ErrorCode"] == 0
            except requests.RequestException:
                ok = False
            if ok:
                counts[index] += 1
            else:
                errors[index] += 1
            if len(latencies[index]) < 20_000:
                latencies[index].append(time.perf_counter() - t)
        session.close()

    pool = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    control(port, "/_reset", {})
    deadline[0] = time.perf_counter() + seconds
    start = time.perf_counter()
    cpu = time.process_time()
    barrier.wait()
    for t in pool:
        t.join(timeout=seconds + 60)
    took = time.perf_counter() - start
    client_cpu = time.process_time() - cpu
    server = control(port, "/_stats?messages=0")
    lat = sorted(x for part in latencies for x in part)
    done = sum(counts)
    return {
        "threads": threads,
        "reuse": reuse,
        "requests": done,
        "errors": sum(errors),
        "seconds": took,
        "rate": done / took,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0,
        "server_cpu_ms": server["cpu_seconds"] / max(1, server["requests"]) * 1000,
        "client_cpu_ms": client_cpu / max(1, done) * 1000,
        "connections": server["connections"],
        "distinct": server["distinct_messages"],
        "server_requests": server["requests"],
        "in_flight_max": server["in_flight_max"],
        "bytes": len(body) + 72,
    }


def selftest(seconds: float, thread_counts: list[int], latencies: list[float]) -> int:
    proc, port = spawn(max_seconds=600)
    failed = False
    try:
        print(
            f"esp_server self-benchmark: server in its own process (pid {proc.pid}) on "
            f"127.0.0.1:{port}; load generator: threads with one requests.Session each, "
            f"{seconds:g} s per line, POST /email with a {len(_payload_template()) // 1024}"
            " kB Postmark JSON body\n"
        )
        head = (
            f"{'latency':>7} {'threads':>7} {'connection':>14} {'req/s':>8} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'server CPU ms/req':>17} {'client CPU ms/req':>17} {'conns':>5} "
            f"{'peak':>5} {'ok':>3}"
        )
        print(head)
        print("-" * len(head))
        for latency in latencies:
            control(port, "/_config", {"latency_ms": latency})
            _load(port, 4, 0.3)  # warm up
            runs = [(threads, True) for threads in thread_counts] + [(16, False)]
            for threads, reuse in runs:
                r = _load(port, threads, seconds, reuse)
                good = (
                    r["errors"] == 0
                    and r["distinct"] == r["requests"] == r["server_requests"]
                    and r["connections"] == (threads if reuse else r["requests"])
                )
                failed |= not good
                mode = "kept alive" if reuse else "new / request"
                print(
                    f"{latency:>5g}ms {threads:>7} {mode:>14} {r['rate']:>8.0f} "
                    f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['server_cpu_ms']:>17.3f} "
                    f"{r['client_cpu_ms']:>17.3f} {r['connections']:>5} {r['in_flight_max']:>5} "
                    f"{'yes' if good else 'NO':>3}",
                    flush=True,
                )
        print(
            "\nserver CPU ms/req: the server process's CPU time over the requests it answered;"
            " 1000 / that is what one core of server can answer. ok: no errors, every request"
            " counted once as a distinct message, one connection per client thread (kept alive) or"
            " per request (new / request)."
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if failed else 0


# --- command line ------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--connect-delay-ms", type=float, default=0.0)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", default=None, help="require this X-Postmark-Server-Token")
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop after this long")
    parser.add_argument("--selftest", action="store_true", help="run the self-benchmark")
    parser.add_argument("--seconds", type=float, default=3.0, help="selftest: per line")
    parser.add_argument("--threads", default="1,16,64", help="selftest: client thread counts")
    parser.add_argument("--latencies", default="0,100", help="selftest: latencies in ms")
    args = parser.parse_args(argv)
    if args.selftest:
        return selftest(
            min(args.seconds, 60),
            [int(x) for x in args.threads.split(",")],
            [float(x) for x in args.latencies.split(",")],
        )
    server, port = start_server(
        args.port,
        latency_ms=args.latency_ms,
        connect_delay_ms=args.connect_delay_ms,
        rate_429=args.rate_429,
        retry_after=args.retry_after,
        rate_5xx=args.rate_5xx,
        seed=args.seed,
        token=args.token,
    )
    print(port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait(timeout=args.max_seconds)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
