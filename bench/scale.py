#!/usr/bin/env python3
"""Idle-client scale: memory per idle client and connect rate, shardgate beside PgBouncer.

For each client count N (--clients) and pool mode (--modes), every target is started fresh
(one PostgreSQL 15 shard shared by all), then N clients connect through it, authenticate and
stay idle. Reported per target:
  - RSS per idle client: (VmRSS with the N clients held - VmRSS before them) / N, from
    /proc/<pid>/status, read after the clients have been idle --settle seconds;
  - connect rate: clients that completed startup (authenticated, ReadyForQuery) per second,
    from the first connect to the last ReadyForQuery;
  - that the clients still answer: SELECT 1 on --check of them (all by default) at the end.
The clients are bench/idle_clients.py processes, up to --per-process connections each, each
from its own loopback source address (127.0.0.2, 127.0.0.3, ...): one source address has
only the ~28k ports of ip_local_port_range. See bench/README.md "Idle-client scale".
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (process cleanup, PostgreSQL and proxy start-up)
from compare import log, pgshards  # noqa: E402

REPO = compare.REPO
CLIENT_SCRIPT = Path(__file__).resolve().parent / "idle_clients.py"


def vm_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def parse_counts(text: str, hard: int) -> list[int]:
    """'1000,10000,max': max = what the open-file hard limit leaves a proxy for clients."""
    out = []
    for item in text.split(","):
        item = item.strip()
        out.append((hard - 1000) // 500 * 500 if item == "max" else int(item))
    return out


class ClientGroup:
    """The idle_clients.py processes holding one target's clients."""

    def __init__(self, target: compare.Target, count: int, per_process: int, auth_timeout: float,
                 concurrency: int):
        self.procs: list[subprocess.Popen] = []
        procs = max(1, math.ceil(count / per_process))
        for i in range(procs):
            share = count // procs + (1 if i < count % procs else 0)
            cmd = [sys.executable, str(CLIENT_SCRIPT), "--host", target.host,
                   "--port", str(target.port), "--source", f"127.0.0.{2 + i}",
                   "--count", str(share), "--user", target.user, "--password", target.password,
                   "--dbname", target.dbname, "--options", target.pgoptions or "",
                   "--timeout", str(auth_timeout), "--concurrency", str(concurrency)]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True, bufsize=1, start_new_session=True)
            compare._children.append(proc)
            self.procs.append(proc)

    def collect(self, event: str, timeout: float) -> list[dict]:
        """One `event` line from every process, within `timeout` seconds overall."""
        deadline = time.monotonic() + timeout
        got: dict[int, dict] = {}
        while len(got) < len(self.procs) and time.monotonic() < deadline:
            waiting = [p for i, p in enumerate(self.procs) if i not in got]
            ready, _, _ = select.select([p.stdout for p in waiting], [], [],
                                        max(0.0, deadline - time.monotonic()))
            for p in waiting:
                if p.stdout not in ready:
                    continue
                line = p.stdout.readline()
                i = self.procs.index(p)
                if not line:
                    got[i] = {"event": event, "ok": 0, "failed": -1,
                              "errors": [f"client process exited {p.poll()}"]}
                    continue
                msg = json.loads(line)
                if msg.get("event") == event:
                    got[i] = msg
        for i in range(len(self.procs)):
            got.setdefault(i, {"event": event, "ok": 0, "failed": -1, "errors": ["timed out"]})
        return [got[i] for i in range(len(self.procs))]

    def send(self, line: str) -> None:
        for p in self.procs:
            try:
                p.stdin.write(line + "\n")
                p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def close(self) -> None:
        self.send("close")
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
            if p in compare._children:
                compare._children.remove(p)


def start_target(name: str, work: Path, shard, args, count: int, mode: str) -> compare.Target:
    if name == "pgbouncer":
        return compare.start_pgbouncer(work, shard, args.pool, count, args.client_auth,
                                       pool_mode=mode)
    binary = Path(args.baseline_bin) if name == "sg-base" else args.binary
    return compare.start_shardgate(work, shard, binary, args.pool, args.workers, args.client_auth,
                                   "options", name=name, pool_mode=mode)


def measure(name: str, work: Path, shard, args, count: int, mode: str) -> dict:
    row = {"target": name, "mode": mode, "clients": count}
    target = start_target(name, work, shard, args, count, mode)
    pid = target.proc.pid
    try:
        # One client first, so what every proxy allocates once (pools, caches) is in `before`.
        warm = ClientGroup(target, 1, 1, args.auth_timeout, 1)
        warm.collect("connected", 60)
        warm.send("check -1")
        warm.collect("checked", 60)
        warm.close()
        time.sleep(0.5)
        before = vm_rss_kib(pid)
        group = ClientGroup(target, count, args.per_process, args.auth_timeout, args.concurrency)
        try:
            conn = group.collect("connected", args.connect_timeout)
            ok = sum(c["ok"] for c in conn)
            starts = [c["start"] for c in conn if "start" in c]
            ends = [c["end"] for c in conn if "end" in c]
            elapsed = (max(ends) - min(starts)) if starts and ends else None
            time.sleep(args.settle)
            after = vm_rss_kib(pid)
            row.update(connected=ok, connect_seconds=elapsed,
                       connect_rate=(ok / elapsed) if elapsed else None,
                       rss_before_kib=before, rss_after_kib=after, fds=open_fds(pid),
                       connect_errors=sorted({e for c in conn for e in c.get("errors", [])})[:5])
            if before is not None and after is not None and ok:
                row["rss_per_client_kib"] = (after - before) / ok
            sample = args.check if mode == "transaction" else min(args.check, args.pool)
            per_proc = -1 if sample < 0 else max(1, sample // len(group.procs))
            group.send(f"check {per_proc}")
            checked = group.collect("checked", args.connect_timeout)
            row.update(checked_ok=sum(c["ok"] for c in checked),
                       checked_failed=sum(max(c["failed"], 0) for c in checked),
                       check_errors=sorted({e for c in checked for e in c.get("errors", [])})[:5])
        finally:
            group.close()
        row["alive"] = target.alive()
    finally:
        compare._stop_process(target.proc)
        if target.proc in compare._children:
            compare._children.remove(target.proc)
    return row


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[dict]) -> None:
    print(f"{'mode':<12}{'clients':>8}  {'target':<10}{'connected':>10}{'checked':>9}"
          f"{'KiB/client':>11}{'conn/s':>9}{'RSS MiB':>9}{'fds':>7}")
    for r in rows:
        print(f"{r['mode']:<12}{r['clients']:>8}  {r['target']:<10}{r.get('connected', 0):>10}"
              f"{r.get('checked_ok', 0):>9}{fmt(r.get('rss_per_client_kib'), '.2f'):>11}"
              f"{fmt(r.get('connect_rate'), '.0f'):>9}"
              f"{fmt((r.get('rss_after_kib') or 0) / 1024, '.1f'):>9}{fmt(r.get('fds'), 'd'):>7}")
        for key in ("connect_errors", "check_errors"):
            if r.get(key):
                print(f"    {key}: {'; '.join(r[key])}")


def fd_limits() -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    except OSError:
        nr_open = None
    # Try to lift the hard limit: needs CAP_SYS_RESOURCE (root in a container may lack it).
    raised = None
    if nr_open and hard < nr_open:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, nr_open))
            raised = nr_open
        except (ValueError, OSError) as e:
            raised = f"not raised: {e}"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return {"soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0], "hard": hard,
            "nr_open": nr_open, "raise_hard": raised}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", default="1000,10000,max",
                   help="client counts; max = open-file hard limit - 1000 (default %(default)s)")
    p.add_argument("--modes", default="transaction", help="transaction,session")
    p.add_argument("--session-clients", type=int, default=150,
                   help="client count for session mode (each holds a server connection; "
                        "PostgreSQL here takes 200)")
    p.add_argument("--targets", default="pgbouncer,shardgate")
    p.add_argument("--baseline-bin", help="a second shardgate binary, target sg-base")
    p.add_argument("--pool", type=int, default=20)
    p.add_argument("--workers", type=int)
    p.add_argument("--client-auth", default="md5", choices=("md5", "scram-sha-256"))
    p.add_argument("--per-process", type=int, default=5000, help="connections per client process")
    p.add_argument("--concurrency", type=int, default=100, help="connects in flight per process")
    p.add_argument("--check", type=int, default=-1, help="clients queried at the end (-1 = all)")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds idle before RSS is read (shardgate parks a client idle 1-2 s, trims 1 s later)")
    p.add_argument("--auth-timeout", type=float, default=60)
    p.add_argument("--connect-timeout", type=float, default=600)
    p.add_argument("--json", help="write every row here")
    args = p.parse_args()
    args.binary = Path(os.environ.get("SHARDGATE_BIN", REPO / "build/proxy/shardgate"))
    targets = [t.strip() for t in args.targets.split(",")]
    if args.baseline_bin and "sg-base" not in targets:
        targets.append("sg-base")
    limits = fd_limits()
    log(f"open files: {limits}")
    counts = parse_counts(args.clients, limits["hard"])

    work = Path(tempfile.mkdtemp(prefix="sg-scale-", dir="/tmp"))
    os.chmod(work, 0o755)
    compare._work_dir = work
    cluster = compare._cluster = pgshards.ShardCluster(base_dir=work / "shards")
    shard = cluster.start_shard("s1")
    pgshards.provision_tenant(shard, compare.TENANT, schema=compare.SCHEMA)

    rows = []
    for mode in [m.strip() for m in args.modes.split(",")]:
        for count in (counts if mode == "transaction" else [args.session_clients]):
            for name in targets:
                run_dir = work / f"{mode}-{count}-{name}"
                run_dir.mkdir()
                os.chmod(run_dir, 0o755)
                compare.give_to_service_user(run_dir)
                log(f"{mode} {count} clients through {name}")
                try:
                    row = measure(name, run_dir, shard, args, count, mode)
                except Exception as e:  # report and go on with the other targets
                    row = {"target": name, "mode": mode, "clients": count, "error": str(e)}
                log(json.dumps(row))
                rows.append(row)
    print(f"open files: soft {limits['soft']}, hard {limits['hard']}, fs.nr_open "
          f"{limits['nr_open']}, raising the hard limit: {limits['raise_hard']}")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"limits": limits, "rows": rows}, indent=1))
    bad = [r for r in rows if r.get("error") or r.get("connected") != r["clients"]
           or r.get("checked_failed")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
