"""Where a pipeline worker's time goes: the floor, then the pipeline at one ESP latency,

    python benchmarks/worker_profile.py N LATENCY_MS [WORKERS]

with each engine function that waits on the database or the ESP wrapped in a timer (wall
time of the worker's main thread), transactions counted, and CPU time per email of the
worker (all threads), its main thread and its PostgreSQL backend. PostgreSQL only
(BENCH_PG_DB names the database, as for throughput.py)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import throughput as T


def prof_worker(index, workers, n, opts):
    from django.db import connection

    import postpurchase.delivery.batch as B
    import postpurchase.delivery.step as S
    import postpurchase.engine.scheduler as E

    spent = {}

    def wrap(mod, name, key):
        orig = getattr(mod, name)

        def w(*a, **k):
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t

        setattr(mod, name, w)

    wrap(B, "wait", "wait_esp")
    for nm in ("write_outcomes", "mark"):
        o = getattr(B, nm)

        def cnt(jobs, *a, _o=o, _nm=nm, **k):
            spent["n_" + _nm] = spent.get("n_" + _nm, 0) + 1
            if jobs:
                spent["n_nonempty_" + _nm] = spent.get("n_nonempty_" + _nm, 0) + 1
            return _o(jobs, *a, **k)

        setattr(B, nm, cnt)
    wrap(B, "write_outcomes", "db_record")
    wrap(B, "mark", "db_mark+lease")
    wrap(S, "prepare", "render+build")
    wrap(S, "ensure_messages", "db_insert_messages")
    wrap(E, "claim_due", "db_claim")
    wrap(E, "_save_all", "db_save_enrollments")
    wrap(E, "process", "process_total")
    wrap(B, "deliver", "deliver_total")
    from postpurchase.engine import advance_due, count_due

    connection.ensure_connection()
    with connection.cursor() as c:
        c.execute("select pg_backend_pid()")
        pg = c.fetchone()[0]

    def pgcpu():
        f = open(f"/proc/{pg}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    yield
    p0 = pgcpu()
    start = time.monotonic()
    c0 = time.process_time()
    t0 = time.thread_time()
    took = batches = 0
    while True:
        done = advance_due()
        took += done
        batches += 1 if done else 0
        if not done and not count_due():
            break
    end = time.monotonic()
    spent["cpu_postgres_backend"] = pgcpu() - p0
    spent["cpu_process"] = time.process_time() - c0
    spent["cpu_main_thread"] = time.thread_time() - t0
    yield {
        "start": start,
        "end": end,
        "count": took,
        "batches": batches,
        "spent": spent,
        "wall": end - start,
    }


def floorprof_worker(index, workers, n, opts):
    steps = T.floor_worker(index, workers, n, opts)
    next(steps)
    yield
    c0 = time.process_time()
    out = next(steps)
    out["spent"] = {"cpu_process": time.process_time() - c0}
    out["wall"] = out["end"] - out["start"]
    out["batches"] = 0
    yield out


T.WORKERS["prof"] = prof_worker
T.WORKERS["floorprof"] = floorprof_worker

if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    from esp_server import start_server

    n = int(sys.argv[1])
    lat = float(sys.argv[2])
    w = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    os.environ["NO_PROXY"] = "127.0.0.1"
    server, port = start_server()
    os.environ["BENCH_DATABASE_URL"] = T.prepare("postgres", Path(tempfile.mkdtemp()))
    os.environ["BENCH_ESP_URL"] = server.url
    T.call("setup_database", n)
    server.configure(latency_ms=0)
    server.reset()
    r = T.run_workers("floorprof", w, n, {"reuse_connection": True})
    print(f"FLOOR {r['count']} in {r['seconds']:.2f}s = {r['count'] / r['seconds']:.0f}/s")
    for i, o in sorted(r["per_worker"].items()):
        print(
            f"  floor worker {i}: cpu {o['spent']['cpu_process'] / o['count'] * 1000:.2f} "
            f"ms/email, wall {o['wall'] / o['count'] * 1000:.2f} ms/email"
        )
    server.configure(latency_ms=lat)
    server.reset()
    r = T.run_workers("prof", w, n)
    print(
        f"{r['count']} in {r['seconds']:.2f}s = {r['count'] / r['seconds']:.0f}/s; ESP server "
        f"{server.stats()['connections']} connections, CPU {server.stats()['cpu_seconds']:.1f}s"
    )
    for i, o in sorted(r["per_worker"].items()):
        wall = o["wall"]
        s = o["spent"]
        print(f"worker {i}: wall {wall:.2f}s, {o['batches']} batches, {o['count']} emails")
        for k, v in sorted(s.items(), key=lambda kv: -kv[1]):
            print(
                # seconds (or a count); per email in ms (or thousandths); per batch
                f"   {k:<26} {v:8.2f}  {v / max(o['count'], 1) * 1000:7.2f} /1000 emails  "
                f"{v / max(o['batches'], 1):7.2f} /batch"
            )
    server.stop()
