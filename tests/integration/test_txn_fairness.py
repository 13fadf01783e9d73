"""Fair queuing across tenants (SPEC.md "Pools and tiers"; issue 3): a tenant with 200
clients flooding a pool of 4 cannot starve a tenant with one client.

Setup: acme (the flood) and initech (the quiet tenant) both live on s1, so they share one
pool: tier `default`, pool: shared, pool_size 4, pool_mode transaction, weight 1,
pool_timeout 10s (long enough that no flood client times out).

Load: 200 acme clients (own process, asyncio) each loop `SELECT pg_sleep(0.01)` as
autocommit transactions for 9 s (psycopg prepare_threshold=None: prepared statements are
test_txn_prepared's subject, not this one's). After they are connected and the queue has built up (1 s),
one initech client runs `SELECT count(*) FROM items` transactions back to back (20 ms apart)
for 6 s (~250 samples), timing each one, pool wait included.

What the bound is, and why FIFO fails it:
- The pool serves 4 transactions of ~10 ms at a time, so a connection frees about every
  10/4 = 2.5 ms (a bit more with overhead); the flood keeps ~196 clients waiting.
- Round robin by tenant (what shardgate promises): when the quiet client queues, it is the
  only initech waiter, so at most one acme grant goes before it: ~2 frees ≈ 5 ms of wait,
  ~10 ms per transaction including its own run. We allow 150 ms at p99 — 15x slack for a
  2-core machine that also runs the flood, the proxy and PostgreSQL.
- FIFO: the quiet client would queue behind ~196 acme waiters: 196 x 10 ms / 4 ≈ 490 ms per
  transaction, every time. That is exactly the flood's own per-transaction latency, which
  the test measures too and requires to be ≥ 250 ms (proof that the pool really was
  contended, so the quiet tenant's bound is not met vacuously).
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from txn_helpers import percentile, txn_config

HELPERS = Path(__file__).resolve().parent / "txn_helpers.py"
FLOOD_CLIENTS = 200
FLOOD_SECONDS = 9.0
QUIET_SECONDS = 6.0
POOL_SIZE = 4
QUIET_P99_BOUND_S = 0.150
FLOOD_P50_FLOOR_S = 0.250


def test_flooding_tenant_cannot_starve_a_quiet_one(start_proxy, launcher, shards):
    proxy = start_proxy(txn_config(launcher, pool_size=POOL_SIZE, pool_timeout="10s", weight=1))
    flood = subprocess.Popen(
        [sys.executable, str(HELPERS), "flood", proxy.conninfo("acme"), str(FLOOD_CLIENTS),
         str(FLOOD_SECONDS), "SELECT pg_sleep(0.01)", "none"],   # simple statements, no prepare
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latencies, errors = [], []
    try:
        ready = flood.stdout.readline().strip()
        assert ready == "ready", f"flood did not start: {ready!r} {flood.stderr.read()[-2000:]}"
        time.sleep(1.0)                                    # let the acme queue build up
        with proxy.connect(tenant="initech") as quiet:
            deadline = time.monotonic() + QUIET_SECONDS
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    count = quiet.execute("SELECT count(*) FROM items").fetchone()[0]
                    latencies.append(time.monotonic() - started)
                    assert count == 3
                except psycopg.Error as exc:
                    errors.append(f"{exc.sqlstate}: {exc}")
                time.sleep(0.02)
        out, err = flood.communicate(timeout=60)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait(timeout=10)
    assert flood.returncode == 0, err[-3000:]
    stats = json.loads(out.strip().splitlines()[-1])
    quiet_p50, quiet_p99 = percentile(latencies, 50), percentile(latencies, 99)
    report = (f"quiet: n={len(latencies)} p50={quiet_p50 * 1000:.1f}ms p99={quiet_p99 * 1000:.1f}ms "
              f"max={max(latencies) * 1000:.1f}ms errors={errors[:3]}; flood: {stats}")
    print(report)
    assert not errors, report
    assert len(latencies) >= 100, report
    assert not stats["errors"], report
    assert stats["p50"] >= FLOOD_P50_FLOOR_S, f"the pool was not contended enough to test fairness: {report}"
    assert quiet_p99 <= QUIET_P99_BOUND_S, f"quiet tenant starved: {report}"
