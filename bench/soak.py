#!/usr/bin/python3
"""Soak: shardgate under --minutes (default 30) of mixed load at the tier defaults, with the
shard restarted half-way. Not part of CI (a report, not a test).

One PostgreSQL 15 shard (scripts/pgshards.py) with --tenants tenants (schema tenant_soakN,
table items), shardgate in front with a tier that sets `pool: shared` and `pool_mode:
transaction` and leaves every other key at its default (pool_size 20, timeouts, ...): the
default pool_mode, session, would give each of the 22 clients below a server connection of
its own, more than the pool has. The load, every thread bounded by the run's end:

- short: --short threads, each on its own connection, a tenant each, running a one-row
  SELECT then an UPDATE of one row, in a loop (every statement's latency recorded);
- long: --long threads, `BEGIN; SELECT pg_sleep(0.2); UPDATE ...; COMMIT` in a loop;
- churn: --churn threads that connect, run one SELECT and disconnect, in a loop;
- half-way, the shard is restarted (`pg_ctl stop -m fast`, then start): clients get errors
  while it is down, and every thread reconnects after an error.

Every --sample seconds (default 10): shardgate's RSS (VmRSS), its open file descriptors,
the short statements' p99 over the interval, statements and errors in the interval. At the
end: the samples as a table, and the issue's targets: RSS and open fds flat within 5 % over
the last 20 minutes, and no error outside the restart window (from the stop until 15 s after
the shard is back). "Flat" is measured on per-minute medians of the samples outside the
restart window (largest / smallest - 1): a client connecting right at a sample adds a
descriptor or two, which is noise, not a trend; a leak moves the medians.

    /usr/bin/python3 bench/soak.py [--minutes 30] [--json FILE]

Environment: SHARDGATE_BIN (default <repo>/build/proxy/shardgate).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

import psycopg  # noqa: E402

import pgshards  # noqa: E402
from proxyctl import ProxyLauncher, shardgate_bin  # noqa: E402


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Recorder:
    """Latencies and errors of every thread, by wall-clock time (thread-safe appends)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[tuple[float, float]] = []  # (time, seconds), short statements
        self.statements = 0
        self.errors: list[tuple[float, str]] = []

    def ok(self, started: float, short: bool) -> None:
        now = time.monotonic()
        with self.lock:
            self.statements += 1
            if short:
                self.latencies.append((now, now - started))

    def error(self, exc: Exception, kind: str) -> None:
        text = (f"{kind}: {getattr(exc, 'sqlstate', None) or type(exc).__name__}: "
                f"{str(exc).strip()[:120]}")
        with self.lock:
            self.errors.append((time.monotonic(), text))


def run_loop(rec: Recorder, stop: threading.Event, connect, body, kind: str) -> None:
    """Runs `body(conn)` until `stop`; after an error, waits a little and reconnects."""
    conn = None
    while not stop.is_set():
        started = time.monotonic()
        try:
            if conn is None:
                conn = connect()
            body(conn)
            rec.ok(started, kind == "short")
        except psycopg.Error as exc:
            rec.error(exc, kind)
            if conn is not None:
                conn.close()
            conn = None
            stop.wait(0.2)
    if conn is not None:
        conn.close()


def proc_sample(pid: int) -> tuple[int, int]:
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def p99(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(0.99 * len(s)))] * 1000 if s else float("nan")


def start_load(proxy, tenants: list[str], args, rec: Recorder, stop: threading.Event):
    threads = []

    def add(target, *a):
        t = threading.Thread(target=target, args=a, daemon=True)
        threads.append(t)
        t.start()

    def short_body(conn):
        conn.execute("SELECT body FROM items WHERE id = 1").fetchone()
        conn.execute("UPDATE items SET body = body WHERE id = 2")

    def long_body(conn):
        with conn.transaction():
            conn.execute("SELECT pg_sleep(0.2)")
            conn.execute("UPDATE items SET body = body WHERE id = 3")

    def churn_body(_):
        with proxy.connect(tenant=tenants[0], connect_timeout=10) as conn:
            conn.execute("SELECT 1").fetchone()

    for n in range(args.short):
        tenant = tenants[n % len(tenants)]
        add(run_loop, rec, stop, lambda t=tenant: proxy.connect(tenant=t, connect_timeout=10),
            short_body, "short")
    for n in range(args.long):
        tenant = tenants[n % len(tenants)]
        add(run_loop, rec, stop, lambda t=tenant: proxy.connect(tenant=t, connect_timeout=10),
            long_body, "long")
    for _ in range(args.churn):
        add(run_loop, rec, stop, lambda: None, churn_body, "churn")
    return threads


def evaluate(samples: list[dict], rec: Recorder, restart: tuple[float, float], args,
             started: float) -> dict:
    window = (restart[0] - started, restart[1] - started + 15)
    last = [s for s in samples if s["t"] >= samples[-1]["t"] - args.flat_minutes * 60
            and not window[0] <= s["t"] <= window[1]]

    def spread(key):
        by_minute: dict[int, list[int]] = {}
        for s in last:
            by_minute.setdefault(int(s["t"] // 60), []).append(s[key])
        medians = [sorted(v)[len(v) // 2] for v in by_minute.values()]
        return max(medians) / max(1, min(medians)) - 1 if medians else float("nan")

    stray = [e for e in rec.errors if not (restart[0] <= e[0] <= restart[1] + 15)]
    return {
        "rss_spread_last": spread("rss_kb"),
        "fds_spread_last": spread("fds"),
        "errors_in_restart_window": len(rec.errors) - len(stray),
        "errors_outside_restart_window": len(stray),
        "stray_error_examples": [e[1] for e in stray[:5]],
        "statements": rec.statements,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples")
    ap.add_argument("--flat-minutes", type=float, default=20,
                    help="the final stretch RSS and fds must be flat over")
    ap.add_argument("--tenants", type=int, default=4)
    ap.add_argument("--short", type=int, default=16)
    ap.add_argument("--long", type=int, default=4)
    ap.add_argument("--churn", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    cluster = pgshards.ShardCluster()
    try:
        shard = cluster.start_shard("soak1")
        tenants = [f"soak{n}" for n in range(args.tenants)]
        for t in tenants:
            pgshards.provision_tenant(shard, t, rows=10)
        launcher = ProxyLauncher({"soak1": shard}, shardgate_bin())
        config = launcher.config(tiers={"std": {"pool": "shared", "pool_mode": "transaction"}})
        proxy = launcher.start(config, {"tenants": {
            t: {"shard": "soak1", "tier": "std", "schema": f"tenant_{t}"} for t in tenants}})
        rec, stop = Recorder(), threading.Event()
        threads = start_load(proxy, tenants, args, rec, stop)
        started = time.monotonic()
        end = started + args.minutes * 60
        restart_at, restart = started + args.minutes * 30, (float("inf"), float("inf"))
        samples, seen_errors, seen_statements, cut = [], 0, 0, started
        while time.monotonic() < end:
            time.sleep(min(args.sample, max(0.0, end - time.monotonic())))
            if restart[0] == float("inf") and time.monotonic() >= restart_at:
                log("restarting the shard")
                t0 = time.monotonic()
                shard.stop()
                shard.start()
                restart = (t0, time.monotonic())
                log(f"shard back after {restart[1] - t0:.1f} s")
            now = time.monotonic()
            rss, fds = proc_sample(proxy.pid)
            with rec.lock:
                window = [d for (t, d) in rec.latencies if cut < t <= now]
                rec.latencies = [x for x in rec.latencies if x[0] > now]
                errors, statements = len(rec.errors), rec.statements
            samples.append({"t": round(now - started, 1), "rss_kb": rss, "fds": fds,
                            "p99_ms": round(p99(window), 2),
                            "statements": statements - seen_statements,
                            "errors": errors - seen_errors})
            cut, seen_errors, seen_statements = now, errors, statements
            log(" ".join(f"{k}={v}" for k, v in samples[-1].items()))
        stop.set()
        for t in threads:
            t.join(15)
        result = evaluate(samples, rec, restart, args, started)
        flat = args.flat_minutes
        print(f"{'t (s)':>8} {'RSS KiB':>9} {'fds':>5} {'p99 ms':>8} {'stmts':>7} {'errors':>6}")
        for s in samples:
            print(f"{s['t']:>8} {s['rss_kb']:>9} {s['fds']:>5} {s['p99_ms']:>8} "
                  f"{s['statements']:>7} {s['errors']:>6}")
        print(f"restart at {restart[0] - started:.0f} s, shard back after "
              f"{restart[1] - restart[0]:.1f} s")
        checks = [
            (f"RSS flat within 5 % over the last {flat:g} min", result["rss_spread_last"] <= 0.05,
             f"{result['rss_spread_last'] * 100:.1f} %"),
            (f"open fds flat within 5 % over the last {flat:g} min",
             result["fds_spread_last"] <= 0.05, f"{result['fds_spread_last'] * 100:.1f} %"),
            ("no error outside the restart window", result["errors_outside_restart_window"] == 0,
             f"{result['errors_outside_restart_window']} "
             f"(in the window: {result['errors_in_restart_window']})"),
        ]
        for what, ok, value in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {what}: {value}")
        for example in result["stray_error_examples"]:
            print(f"        {example}")
        if args.json:
            Path(args.json).write_text(json.dumps({"samples": samples, **result}, indent=2) + "\n")
        launcher.cleanup()
        return 0
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    sys.exit(main())
