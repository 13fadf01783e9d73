#!/usr/bin/python3
"""Tenant moves under write load: the pause each move causes, copy speed, and what the other
tenants feel. Not part of CI (numbers, not assertions).

Two PostgreSQL 15 shards with wal_level=logical (scripts/pgshards.py), shardgate in front
(transaction mode, pool size 40). Tenant `mover` has --rows rows;
--writers clients insert and update its rows through shardgate, recording every write that
was acknowledged, two readers check that they only ever see the tenant's own rows, and
--others clients query tenant `steady` (which never moves). The tenant is moved --moves times
back and forth (DROP MOVED DATA between moves so it can come back). For every move:
shardgate's own pause_ms (MOVE's result row), the longest time any writer statement of the
tenant took during the move (what a client waited), and copy MB/s. Then p50/max of both over
all moves, and the steady tenant's p99 latency during the moves beside its p99 with no move
running. At the end the tenant's rows on its last shard are checked against the writers'
records (every acknowledged insert there exactly once, every acknowledged update there,
nothing unacknowledged, the initial rows complete); the exit status is 1 when anything is
wrong, so the numbers never stand for a move that lost data.

    /usr/bin/python3 bench/move_bench.py [--rows 200000] [--moves 10] [--writers 16] [--json FILE]

Environment: SHARDGATE_BIN (default <repo>/build/proxy/shardgate).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

import pgshards  # noqa: E402
from admin_helpers import admin_psql  # noqa: E402
from proxyctl import ProxyLauncher, shardgate_bin  # noqa: E402
from test_moves import Reader, Writer, write_problems  # noqa: E402

LOGICAL = {"wal_level": "logical", "max_replication_slots": "20", "max_wal_senders": "20"}


def log(msg: str) -> None:
    print(f"[move_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


class Load(threading.Thread):
    """One client running `statement` in a loop, recording (start time, seconds) of each."""

    def __init__(self, proxy, tenant: str, statement: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.proxy, self.tenant, self.statement, self.stop = proxy, tenant, statement, stop
        self.samples: list[tuple[float, float]] = []
        self.errors = 0

    def run(self) -> None:
        conn = self.proxy.connect(tenant=self.tenant)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                conn.execute(self.statement)
            except Exception:  # noqa: BLE001 - a report, not a test: count and go on
                self.errors += 1
                conn = self.proxy.connect(tenant=self.tenant)
                continue
            self.samples.append((started, time.monotonic() - started))


def window(loads: list[Load], start: float, end: float) -> list[float]:
    return [d for load in loads for (t, d) in load.samples if start <= t <= end]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--others", type=int, default=2)
    ap.add_argument("--budget", default="2s")
    ap.add_argument("--json")
    args = ap.parse_args()

    cluster = pgshards.ShardCluster()
    try:
        shards = {n: cluster.start_shard(n, server_settings=LOGICAL) for n in ("b1", "b2")}
        with shards["b1"].connect() as conn:
            conn.execute("CREATE SCHEMA tenant_mover")
            conn.execute("CREATE TABLE tenant_mover.items (id bigserial PRIMARY KEY, "
                         "body text NOT NULL, writer int, seq int)")
            # The readers check every body starts with the tenant's name.
            conn.execute("INSERT INTO tenant_mover.items (body) SELECT 'mover ' || "
                         "repeat('x', 94) FROM generate_series(1, %s)", (args.rows,))
        pgshards.provision_tenant(shards["b2"], "steady", rows=100)
        launcher = ProxyLauncher(shards, shardgate_bin())
        config = launcher.config(tiers={"t": {"pool": "shared", "pool_size": 40,
                                              "pool_mode": "transaction", "pause_timeout": "30s"}})
        proxy = launcher.start(config, {"tenants": {
            "mover": {"shard": "b1", "tier": "t", "schema": "tenant_mover"},
            "steady": {"shard": "b2", "tier": "t", "schema": "tenant_steady"}}})
        stop = threading.Event()
        writers = [Writer(proxy, "mover", n, stop) for n in range(args.writers)]
        readers = [Reader(proxy, "mover", stop) for _ in range(2)]
        others = [Load(proxy, "steady", "SELECT count(*) FROM items", stop) for _ in range(args.others)]
        for t in writers + readers + others:
            t.start()
        time.sleep(3)
        quiet_end = time.monotonic()
        baseline = window(others, quiet_end - 3, quiet_end)
        writer_baseline = window(writers, quiet_end - 3, quiet_end)
        results, waits, mbps, during = [], [], [], []
        where = "b1"
        for n in range(args.moves):
            to = "b2" if where == "b1" else "b1"
            started = time.monotonic()
            r = admin_psql(proxy, f"MOVE TENANT mover TO SHARD {to} PAUSE BUDGET {args.budget}",
                           timeout=600)
            ended = time.monotonic()
            if r.returncode != 0:
                log(f"move {n + 1} failed: {r.stderr.strip()}")
                continue
            header, row = r.stdout.strip().splitlines()[:2]
            rec = dict(zip(header.split("|"), row.split("|")))
            admin_psql(proxy, f"DROP MOVED DATA {rec['move']}")
            where = to
            pause = float(rec["pause_ms"])
            wait = max(window(writers, started, ended), default=0) * 1000
            rate = int(rec["bytes"]) / 1e6 / max(float(rec["copy_seconds"]), 1e-3)
            results.append(pause)
            waits.append(wait)
            mbps.append(rate)
            during += window(others, started, ended)
            steps = next((line.split("paused ", 1)[1] for line in r.stderr.splitlines()
                          if "cutover done: paused " in line), "?")
            point = next((line.split("verification point: paused ", 1)[1].split(";")[0]
                          for line in r.stderr.splitlines() if "verification point: paused " in line),
                         "?")
            steps += "; verification point: " + point + "; " + " ".join(
                line.split(": ", 2)[-1] for line in r.stderr.splitlines() if "verify: source" in line)
            log(f"move {n + 1}: pause {pause:.1f} ms, longest writer statement {wait:.1f} ms, "
                f"copy {rate:.1f} MB/s, {ended - started:.1f} s in all; pause: {steps}")
        stop.set()
        for t in writers + readers + others:
            t.join(10)
        problems = write_problems(shards[where], "mover", writers, args.rows)
        foreign = [b for r in readers for b in r.foreign]
        report = {
            "moves": len(results),
            "pause_ms_p50": statistics.median(results) if results else None,
            "pause_ms_max": max(results, default=None),
            "writer_wait_ms_p50": statistics.median(waits) if waits else None,
            "writer_wait_ms_max": max(waits, default=None),
            # The same writers' slowest statement in 3 s with no move running: the load itself.
            "writer_wait_ms_max_without_move": max(writer_baseline, default=0) * 1000,
            "copy_mb_per_s_p50": statistics.median(mbps) if mbps else None,
            "steady_p99_ms_without_move": pct(baseline, 99) * 1000,
            "steady_p99_ms_during_moves": pct(during, 99) * 1000,
            "writer_errors": sum(len(w.errors) for w in writers),
            "acknowledged_inserts": sum(len(w.acked_inserts) for w in writers),
            "acknowledged_updates": sum(len(w.acked_updates) for w in writers),
            "write_problems": problems,
            "reads": sum(r.reads for r in readers),
            "foreign_rows_read": foreign[:5],
        }
        print(json.dumps(report, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        launcher.cleanup()
        return 1 if problems or foreign else 0
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    sys.exit(main())
