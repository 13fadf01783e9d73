#!/usr/bin/env python3
"""Rate-limit accuracy: a tenant limited to R queries/s, driven far beyond it, gets R*T + burst.

Starts one local PostgreSQL 15 shard (scripts/pgshards.py) and shardgate in front of it with a
config this script writes: tier `default` with rate {queries_per_second: R, burst: B,
action: reject}. Then CLIENTS threads (psycopg, one connection each) run `SELECT 1` as fast as
they can for T seconds (bounded: each client also stops after --max-per-client queries). The
queries that got through are compared with R*T + B; the script prints the numbers and exits 1
if the result is off by more than --tolerance (default 5%), 0 otherwise.

    /usr/bin/python3 bench/rate_accuracy.py [--rate 200] [--burst 50] [--clients 8] [--seconds 10]

Environment: SHARDGATE_BIN (default <repo>/build/proxy/shardgate). Every process it starts is
stopped at exit, also on Ctrl-C/SIGTERM (the cleanup of bench/compare.py is reused).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TENANT = "acme"
APP_USER = "app"
APP_PASSWORD = "app-bench-pw"
RATE_LIMITED = "53400"

sys.path.insert(0, str(REPO / "bench"))
import compare  # noqa: E402  (installs signal handlers, imports pgshards, registers cleanup)
from compare import pgshards, psycopg  # noqa: E402


def log(msg: str) -> None:
    print(f"[rate_accuracy {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def start_shardgate(work: Path, shard: pgshards.Shard, binary: Path, args) -> tuple[subprocess.Popen, int, Path]:
    port = pgshards.free_port()
    directory = work / "directory.yaml"
    directory.write_text(json.dumps({"tenants": {TENANT: {
        "shard": "s1", "tier": "default", "schema": pgshards.tenant_schema(TENANT)}}}) + "\n")
    config = {
        "listen": f"127.0.0.1:{port}",
        "admin": {"socket_dir": str(work), "port": pgshards.free_port()},
        "log": {"level": "warn", "format": "text"},
        "auth": {"users": [{"name": APP_USER, "password": APP_PASSWORD,
                            "auth": "scram-sha-256", "tenants": "*"}]},
        "tenant": {"sources": ["options"]},
        "shards": {"s1": shard.config_entry()},
        "tiers": {"default": {
            "pool": "shared", "pool_size": args.pool, "pool_mode": args.pool_mode,
            "rate": {"queries_per_second": args.rate, "burst": args.burst, "action": "reject"}}},
        "directory": {"file": str(directory)},
    }
    config_path = work / "shardgate.yaml"
    config_path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
    check = subprocess.run([str(binary), "--check-config", str(config_path)],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"shardgate --check-config failed:\n{check.stdout}{check.stderr}")
    log_path = work / "shardgate.log"
    proc = compare.start_child([str(binary), "--config", str(config_path)], log_path)
    if not pgshards.wait_for_port(port, timeout=15) or proc.poll() is not None:
        raise RuntimeError(f"shardgate did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
    return proc, port, log_path


def drive(conninfo: str, args) -> dict:
    conns = [psycopg.connect(conninfo, autocommit=True) for _ in range(args.clients)]
    ok = [0] * args.clients
    limited = [0] * args.clients
    other: list[str] = []
    barrier = threading.Barrier(args.clients + 1)
    window: dict[str, float] = {}

    def run(i: int) -> None:
        conn = conns[i]
        barrier.wait(timeout=30)
        deadline = window["start"] + args.seconds
        for _ in range(args.max_per_client):
            if time.monotonic() >= deadline:
                return
            try:
                conn.execute("SELECT 1")
                ok[i] += 1
            except psycopg.Error as exc:
                if getattr(exc, "sqlstate", None) == RATE_LIMITED:
                    limited[i] += 1
                else:
                    other.append(f"{type(exc).__name__}: {exc}")
                    return

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    window["start"] = time.monotonic()
    barrier.wait(timeout=30)
    for t in threads:
        t.join(timeout=args.seconds + 30)
    elapsed = time.monotonic() - window["start"]
    for c in conns:
        c.close()
    return {"ok": sum(ok), "limited": sum(limited), "errors": other, "elapsed": elapsed,
            "hung": sum(t.is_alive() for t in threads)}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200, help="queries_per_second R (default 200)")
    p.add_argument("--burst", type=float, default=50, help="burst (default 50)")
    p.add_argument("--clients", type=int, default=8, help="client connections (default 8)")
    p.add_argument("--seconds", type=float, default=10, help="drive time T (default 10)")
    p.add_argument("--max-per-client", type=int, default=200000,
                   help="hard bound on queries per client (default 200000)")
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed relative error (0.05)")
    p.add_argument("--pool", type=int, default=8, help="tier pool_size (default 8)")
    p.add_argument("--pool-mode", default="transaction", choices=("session", "transaction"))
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    binary = Path(os.environ.get("SHARDGATE_BIN", str(REPO / "build" / "proxy" / "shardgate")))
    if not binary.exists():
        log(f"shardgate binary not found at {binary}: build it or set SHARDGATE_BIN")
        return 2
    work = compare._work_dir = Path(tempfile.mkdtemp(prefix="sg-rate-", dir="/tmp"))
    os.chmod(work, 0o755)  # the shard runs as the unprivileged service user when we are root
    log("starting PostgreSQL shard s1")
    cluster = compare._cluster = pgshards.ShardCluster(base_dir=work / "shards")
    shard = cluster.start_shard("s1")
    pgshards.provision_tenant(shard, TENANT)
    proc, port, log_path = start_shardgate(work, shard, binary, args)
    conninfo = psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port=port, user=APP_USER, password=APP_PASSWORD, dbname="app",
        options=f"-c shardgate.tenant={TENANT}", connect_timeout=10)
    log(f"driving tenant {TENANT} with {args.clients} clients for {args.seconds:g}s "
        f"(limit {args.rate:g}/s, burst {args.burst:g}, reject)")
    result = drive(conninfo, args)
    if proc.poll() is not None:
        log(f"shardgate exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        return 1

    expected = args.rate * args.seconds + args.burst
    expected_elapsed = args.rate * result["elapsed"] + args.burst
    offered = result["ok"] + result["limited"]
    error = (result["ok"] - expected) / expected
    print(f"rate limit        {args.rate:g} queries/s, burst {args.burst:g}, action reject")
    print(f"clients           {args.clients}, {args.seconds:g}s (measured window {result['elapsed']:.2f}s)")
    print(f"offered           {offered} queries ({offered / result['elapsed']:.0f}/s, "
          f"{offered / result['elapsed'] / args.rate:.1f}x the limit)")
    print(f"rejected (53400)  {result['limited']}")
    print(f"got through       {result['ok']}")
    print(f"expected R*T+B    {expected:.0f}  (R*measured+B = {expected_elapsed:.0f})")
    print(f"error             {error * 100:+.2f}% (tolerance +-{args.tolerance * 100:g}%)")
    if args.json:
        print(json.dumps({**result, "expected": expected, "relative_error": error,
                          "rate": args.rate, "burst": args.burst, "clients": args.clients,
                          "seconds": args.seconds}))
    failures = []
    if result["errors"]:
        failures.append(f"{len(result['errors'])} unexpected errors, first: {result['errors'][0]}")
    if result["hung"]:
        failures.append(f"{result['hung']} clients did not finish")
    if offered < 2 * expected:
        failures.append(f"offered load {offered} is not far beyond the limit ({expected:.0f})")
    if abs(error) > args.tolerance:
        failures.append(f"got {result['ok']}, expected {expected:.0f} +-{args.tolerance * 100:g}%")
    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
