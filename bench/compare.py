#!/usr/bin/python3
"""End-to-end comparison: PostgreSQL direct vs PgBouncer vs shardgate, in one run.

Starts one local PostgreSQL 15 shard (scripts/pgshards.py), loads `pgbench -i -s SCALE` into
the schema tenant_acme of tenant `acme`, starts PgBouncer (transaction mode) and shardgate in
front of it, then runs pgbench select-only (a custom script, -c CLIENTS -j 2 -T SECONDS; with
--scripts also as an ORM writes it and schema-qualified)
against each target in interleaved rounds, for each query mode (simple, prepared). Prints the
median tps of each target, its ratio to direct, shardgate/PgBouncer ratios, and the CPU time
each proxy process spent per transaction (utime+stime from /proc/<pid>/stat).

Run with Debian's /usr/bin/python3 (it has psycopg 3), or through bench/compare.sh:

    /usr/bin/python3 bench/compare.py --seconds 5 --rounds 1
    /usr/bin/python3 bench/compare.py --clients 1000 --modes simple --json /tmp/c1000.json

Every process it starts (PostgreSQL, PgBouncer, shardgate, pgbench) is stopped at exit,
on Ctrl-C and on SIGTERM/SIGHUP; each step has a timeout and the whole run a deadline.
"""
from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("direct", "pgbouncer", "shardgate", "sg-pipe", "sg-base")
# The shardgate targets: the tier defaults, the same with another pipeline_depth
# (--pipeline-depth), and the tier defaults with another binary (--baseline-bin: before/after
# a change, same run).
SHARDGATES = ("shardgate", "sg-pipe", "sg-base")
# pgbench -M modes, and "connect": simple with -C, a new connection (and with --tls a new TLS
# handshake) for every transaction, so its tps is new connections per second.
MODES = ("simple", "prepared", "extended", "connect")
# Statement shapes (--scripts): the same select-only lookup as pgbench -S writes it, as an ORM
# writes it (quoted, table-qualified columns, LIMIT 21: Django's get()), and with the table
# qualified by the tenant's schema. Fresh literal values every time in simple mode.
SCRIPTS = ("plain", "orm", "qualified", "sleep", "mixed")
TENANT = "acme"
SCHEMA = f"tenant_{TENANT}"
APP_USER = "app"
APP_PASSWORD = "app-bench-pw"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- process bookkeeping and cleanup --------------------------------------------------------
_children: list[subprocess.Popen] = []


def _stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    except ProcessLookupError:
        pass


def _cleanup_children() -> None:
    for proc in reversed(_children):
        _stop_process(proc)
    _children.clear()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# Installed before pgshards is imported, so pgshards keeps these handlers and the cleanup of
# both (ours first: atexit runs last-registered first) happens through SystemExit -> atexit.
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)

sys.path.insert(0, str(REPO / "scripts"))
import pgshards  # noqa: E402  (needs the handlers above installed first)
import psycopg  # noqa: E402

import compare_tls  # noqa: E402  (bench/, next to this file)
from syscall_count import SyscallCounter  # noqa: E402

_cluster: pgshards.ShardCluster | None = None
_work_dir: Path | None = None


def _cleanup() -> None:
    """Proxies and pgbench first, then PostgreSQL, then the work folder (in that order)."""
    _cleanup_children()
    if _cluster is not None:
        _cluster.stop_all()
    if _work_dir is not None:
        shutil.rmtree(_work_dir, ignore_errors=True)


atexit.register(_cleanup)  # runs before pgshards' own exit handler (registered earlier)


def log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- helpers ---------------------------------------------------------------------------------
def service_user() -> pwd.struct_passwd | None:
    """The unprivileged user proxies run as when we are root (the one pgshards uses)."""
    return pwd.getpwnam(pgshards.SERVICE_USER) if pgshards.is_root() else None


def give_to_service_user(path: Path) -> None:
    user = service_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def raise_fd_limit(needed: int) -> int:
    """Raises RLIMIT_NOFILE (inherited by pgbench and the proxies) to at least `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, needed)
    if want > hard:
        if pgshards.is_root():
            hard = want
        else:
            want = hard
    if want != soft or hard != resource.getrlimit(resource.RLIMIT_NOFILE)[1]:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(utime, stime) of a whole process (all its threads), in seconds; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; everything after the last ')' is positional.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return utime / CLK_TCK, stime / CLK_TCK


def start_child(cmd: list[str], log_path: Path, as_service_user: bool = False,
                env: dict | None = None) -> subprocess.Popen:
    """Starts a long-lived child with stdout+stderr into log_path. As root with
    as_service_user, the child itself runs as the unprivileged user (setuid before exec, no
    runuser in between), so its pid is the process whose CPU we read."""
    kwargs = {}
    user = service_user() if as_service_user else None
    if user is not None:
        kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    out = open(log_path, "ab")
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, **kwargs)
    finally:
        out.close()
    _children.append(proc)
    return proc


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- targets ---------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    host: str
    port: int
    user: str
    password: str
    dbname: str
    pgoptions: str | None = None        # PGOPTIONS for pgbench (direct: search_path)
    proc: subprocess.Popen | None = None  # the proxy process whose CPU is measured
    log_path: Path | None = None
    sslmode: str = "disable"  # require for the proxies under --tls

    def env(self) -> dict:
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="30",
                   PGSSLMODE=self.sslmode, PGAPPNAME="compare")
        for key in ("PGOPTIONS", "PGSERVICE", "PGSERVICEFILE", "PGDATABASE", "PGUSER", "PGHOST",
                    "PGPORT", "PGPASSFILE"):
            env.pop(key, None)
        if self.pgoptions:
            env["PGOPTIONS"] = self.pgoptions
        return env

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.dbname, connect_timeout=10, sslmode=self.sslmode,
            **({"options": self.pgoptions} if self.pgoptions else {}))

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None


def check_target(target: Target, scale: int) -> str:
    """Proves the target serves tenant acme's tables (search_path right) before timing it;
    returns what the connection's TLS agreed on ("plaintext" without)."""
    with psycopg.connect(target.conninfo(), autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        row = conn.execute("SELECT aid FROM pgbench_accounts WHERE aid = %s",
                           (scale * 100000,)).fetchone()
        tls = compare_tls.describe(conn)
    if schema != SCHEMA or row is None:
        raise RuntimeError(f"{target.name}: current_schema()={schema!r}, last aid row={row!r}; "
                           f"expected schema {SCHEMA} with {scale * 100000} accounts")
    return tls


def start_pgbouncer(work: Path, shard: pgshards.Shard, pool: int, clients: int,
                    client_auth: str, cert: compare_tls.Certificate | None = None,
                    pool_mode: str = "transaction") -> Target:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("pgbouncer not found (Debian package `pgbouncer`)")
    d = work / "pgbouncer"
    d.mkdir()
    os.chmod(d, 0o755)
    give_to_service_user(d)
    port = pgshards.free_port()
    # search_path: PgBouncer refuses the `options` startup parameter (PGOPTIONS) unless told
    # to ignore it, and then it would not apply it; so the pool's server connections get it
    # from connect_query, run once on each new server connection. Transaction mode runs no
    # server_reset_query, so it sticks.
    (d / "userlist.txt").write_text(f'"{APP_USER}" "{APP_PASSWORD}"\n')
    ini = f"""\
;; written by bench/compare.py
[databases]
app = host=127.0.0.1 port={shard.port} dbname={shard.dbname} user={shard.user} password={shard.password} connect_query='SET search_path TO {SCHEMA}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = {client_auth}
auth_file = {d / "userlist.txt"}
pool_mode = {pool_mode}
default_pool_size = {pool}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max(2000, clients + 100)}
max_db_connections = 0
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = disable
{compare_tls.pgbouncer_lines(cert)}log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 3600
pidfile = {d / "pgbouncer.pid"}
"""
    (d / "pgbouncer.ini").write_text(ini)
    for name in ("userlist.txt", "pgbouncer.ini"):
        os.chmod(d / name, 0o600)
        give_to_service_user(d / name)
    log_path = d / "pgbouncer.log"
    proc = start_child([binary, str(d / "pgbouncer.ini")], log_path, as_service_user=True)
    if not pgshards.wait_for_port(port, timeout=15) or proc.poll() is not None:
        raise RuntimeError(f"pgbouncer did not start:\n{tail(log_path)}")
    return Target("pgbouncer", "127.0.0.1", port, APP_USER, APP_PASSWORD, "app", None, proc,
                  log_path, "require" if cert else "disable")


def start_shardgate(work: Path, shard: pgshards.Shard, binary: Path, pool: int,
                    workers: int | None, client_auth: str, tenant_by: str,
                    guard: str = "on", pipeline_depth: int | None = None,
                    name: str = "shardgate",
                    cert: compare_tls.Certificate | None = None,
                    pool_mode: str = "transaction") -> Target:
    d = work / name
    d.mkdir()
    port = pgshards.free_port()
    (d / "directory.yaml").write_text(
        f"tenants:\n  {TENANT}: {{ shard: s1, tier: default, schema: {SCHEMA} }}\n")
    workers_line = f"workers: {workers}\n" if workers else ""
    depth_key = f", pipeline_depth: {pipeline_depth}" if pipeline_depth is not None else ""
    if guard == "off":
        workers_line += "guard: { enabled: false }\n"
    config = f"""\
# written by bench/compare.py (format: docs/configuration.md)
listen: 127.0.0.1:{port}
log: {{ level: warn, format: json }}
auth:
  users:
    - {{ name: {APP_USER}, password: "{APP_PASSWORD}", auth: {client_auth}, tenants: "*" }}
tenant: {{ sources: [options, user_suffix] }}
shards:
  s1: {{ host: 127.0.0.1, port: {shard.port}, dbname: {shard.dbname}, user: {shard.user}, password: "{shard.password}" }}
tiers:
  default: {{ pool: shared, pool_size: {pool}, pool_mode: {pool_mode}{depth_key} }}
directory: {{ file: {d / "directory.yaml"} }}
admin: {{ socket_dir: {d} }}
{compare_tls.shardgate_lines(cert)}{workers_line}"""
    (d / "shardgate.yaml").write_text(config)
    check = subprocess.run([str(binary), "--check-config", str(d / "shardgate.yaml")],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"shardgate --check-config failed:\n{check.stdout}{check.stderr}")
    log_path = d / "shardgate.log"
    proc = start_child([str(binary), "--config", str(d / "shardgate.yaml")], log_path)
    if not pgshards.wait_for_port(port, timeout=15) or proc.poll() is not None:
        raise RuntimeError(f"shardgate did not start:\n{tail(log_path)}")
    # shardgate sets search_path itself. The tenant rides in the startup options by default;
    # --tenant-by user puts it in the user name (app.acme) instead.
    sslmode = "require" if cert else "disable"
    if tenant_by == "user":
        return Target(name, "127.0.0.1", port, f"{APP_USER}.{TENANT}", APP_PASSWORD, "app",
                      None, proc, log_path, sslmode)
    return Target(name, "127.0.0.1", port, APP_USER, APP_PASSWORD, "app",
                  f"-c shardgate.tenant={TENANT}", proc, log_path, sslmode)


# --- pgbench ---------------------------------------------------------------------------------
@dataclass
class RunResult:
    mode: str
    target: str
    round: int
    clients: int
    seconds: int
    tps: float | None = None
    transactions: int = 0
    failed_transactions: int = 0
    aborted_clients: int = 0
    latency_ms: float | None = None
    exit_code: int | None = None
    wall_seconds: float = 0.0
    server_connections: int | None = None  # PostgreSQL client backends at mid-run
    proxy_cpu_seconds: float | None = None
    proxy_user_seconds: float | None = None  # the user-space part of proxy_cpu_seconds
    cpu_us_per_txn: float | None = None
    syscalls_per_txn: float | None = None  # with --syscalls (bench/syscall_count.py)
    error_lines: list[str] = field(default_factory=list)  # pgbench output lines with ERROR:
    ok: bool = False
    error: str | None = None
    skipped: str | None = None


def write_script(work: Path, scale: int, shape: str = "plain") -> Path:
    # Like pgbench's built-in -S, but a custom script so it runs unchanged on every target;
    # :scale is not known to custom scripts without -s, so the bound is written in.
    statement = {
        "plain": "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;",
        "orm": 'SELECT "pgbench_accounts"."aid", "pgbench_accounts"."bid", '
               '"pgbench_accounts"."abalance", "pgbench_accounts"."filler" '
               'FROM "pgbench_accounts" WHERE "pgbench_accounts"."aid" = :aid LIMIT 21;',
        "qualified": f"SELECT abalance FROM {SCHEMA}.pgbench_accounts WHERE aid = :aid;",
        # Statements that wait rather than compute: they need connections side by side.
        "sleep": "SELECT pg_sleep(0.002);",
        # One transaction in ten a 20 ms statement, the rest select by key.
        "mixed": "\\set r random(1, 10)\n\\if :r = 1\nSELECT pg_sleep(0.02);\n\\else\n"
                 "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n\\endif",
    }[shape]
    path = work / ("select_only.sql" if shape == "plain" else f"select_only_{shape}.sql")
    path.write_text(f"\\set aid random(1, {100000 * scale})\n{statement}\n")
    return path


def mode_label(mode: str, shape: str) -> str:
    """How results and the table name a pgbench -M mode run with a statement shape."""
    return mode if shape == "plain" else f"{mode}:{shape}"


def parse_pgbench(out: str, err: str, result: RunResult) -> None:
    m = re.search(r"^tps = ([0-9.]+) \((?:without initial connection time|including "
                  r"reconnection times)\)", out, re.M)
    if m:
        result.tps = float(m.group(1))
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    if m:
        result.transactions = int(m.group(1))
    m = re.search(r"number of failed transactions: (\d+)", out)
    if m:
        result.failed_transactions = int(m.group(1))
    m = re.search(r"^latency average = ([0-9.]+) ms", out, re.M)
    if m:
        result.latency_ms = float(m.group(1))
    result.aborted_clients = len(set(re.findall(r"client (\d+) (?:script \d+ )?aborted", err)))
    # pgbench 15 logs some failures (a failed prepare) and carries on, exiting 0 with a tps
    # that means nothing: any ERROR line fails the run.
    result.error_lines = [l.strip() for l in (out + "\n" + err).splitlines() if "ERROR:" in l]


def first_error(err: str) -> str | None:
    lines = [l.strip() for l in err.splitlines() if l.strip()]
    interesting = [l for l in lines if "error" in l.lower() or "fatal" in l.lower()
                   or "aborted" in l.lower() or "failed" in l.lower()]
    pick = interesting or lines
    return pick[0][:300] if pick else None


def proxy_server_connections(pid: int, pg_port: int) -> int | None:
    """Established TCP connections from process `pid` to port `pg_port`: the proxy's server
    connections (its pool as PostgreSQL sees it), from /proc/<pid>/fd and /proc/net/tcp."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return None
    count = 0
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    # cols: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
                    if cols[3] == "01" and int(cols[2].rsplit(":", 1)[1], 16) == pg_port \
                            and cols[9] in inodes:
                        count += 1
        except OSError:
            continue
    return count


def count_server_connections(target: Target, shard: pgshards.Shard,
                             proxies: list[Target]) -> int | None:
    """Server connections serving `target` right now: the proxy's own, or for direct the
    shard's client backends minus those the proxies hold (idle pools stay open)."""
    if target.proc is not None:
        return proxy_server_connections(target.proc.pid, shard.port)
    try:
        total = shard.scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                             "'client backend' AND pid <> pg_backend_pid()")
    except Exception:
        return None
    held = [proxy_server_connections(p.proc.pid, shard.port) for p in proxies if p.proc]
    return total - sum(h or 0 for h in held)


def run_pgbench(target: Target, script: Path, mode: str, clients: int, jobs: int, seconds: int,
                round_no: int, shard: pgshards.Shard | None = None,
                proxies: list[Target] = (), label: str | None = None,
                count_syscalls: bool = False) -> RunResult:
    result = RunResult(label or mode, target.name, round_no, clients, seconds)
    cmd = ["pgbench", "-n", "-h", target.host, "-p", str(target.port), "-U", target.user,
           "-c", str(clients), "-j", str(min(jobs, clients)), "-T", str(seconds),
           "-M", "simple" if mode == "connect" else mode, "-f", str(script), target.dbname]
    if mode == "connect":
        cmd.insert(1, "-C")
    if not target.alive():
        result.error = f"{target.name} process is not running (exit {target.proc.returncode})"
        return result
    cpu_before = proc_cpu_seconds(target.proc.pid) if target.proc else None
    syscalls = SyscallCounter(target.proc.pid) if count_syscalls and target.proc else None
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=target.env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _children.append(proc)
    try:
        # pgbench connects every client first, then runs -T seconds; allow for 1000 connects.
        limit = seconds + 60 + clients * 0.05
        if shard is not None:
            try:  # sample the shard's connections half-way through the timed part
                proc.wait(timeout=seconds / 2 + min(clients * 0.002, 5))
            except subprocess.TimeoutExpired:
                result.server_connections = count_server_connections(target, shard, list(proxies))
        out, err = proc.communicate(timeout=max(1.0, limit - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        result.error = "pgbench did not finish in time (killed)"
    finally:
        if proc in _children:
            _children.remove(proc)
    result.wall_seconds = round(time.monotonic() - started, 2)
    calls = syscalls.stop() if syscalls else None
    cpu_after = proc_cpu_seconds(target.proc.pid) if target.proc else None
    result.exit_code = proc.returncode
    parse_pgbench(out, err, result)
    if cpu_before is not None and cpu_after is not None:
        result.proxy_user_seconds = round(cpu_after[0] - cpu_before[0], 3)
        result.proxy_cpu_seconds = round(sum(cpu_after) - sum(cpu_before), 3)
        if result.transactions > 0:
            result.cpu_us_per_txn = round(result.proxy_cpu_seconds * 1e6 / result.transactions, 2)
        if calls is not None and result.transactions > 0:
            result.syscalls_per_txn = round(calls / result.transactions, 2)
    elif target.proc is not None:
        result.error = result.error or f"{target.name} exited during the run"
    if result.error_lines and result.error is None:
        result.error = f"{len(result.error_lines)} ERROR line(s): {result.error_lines[0][:160]}"
    result.ok = (proc.returncode == 0 and result.tps is not None and result.failed_transactions == 0
                 and result.aborted_clients == 0 and not result.error_lines
                 and result.error is None)
    if not result.ok and result.error is None:
        result.error = first_error(err) or f"pgbench exit {proc.returncode}"
    return result


# --- reporting -------------------------------------------------------------------------------
def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: list[RunResult], modes: list[str]) -> dict:
    summary: dict = {}
    for mode in modes:
        per: dict = {}
        for name in TARGETS:
            runs = [r for r in results if r.mode == mode and r.target == name]
            if not runs:
                continue
            good = [r for r in runs if r.ok]
            skipped = next((r.skipped for r in runs if r.skipped), None)
            per[name] = {
                "runs": len(runs), "ok_runs": len(good),
                "median_tps": median([r.tps for r in good]),
                "median_cpu_us_per_txn": median([r.cpu_us_per_txn for r in good
                                                 if r.cpu_us_per_txn is not None]),
                "max_server_connections": max((r.server_connections for r in runs
                                               if r.server_connections is not None), default=None),
                "failed_transactions": sum(r.failed_transactions for r in runs),
                "aborted_clients": sum(r.aborted_clients for r in runs),
                "errors": sorted({r.error for r in runs if r.error and not r.skipped}),
                "skipped": skipped,
            }
        direct = per.get("direct", {}).get("median_tps")
        for name, s in per.items():
            s["vs_direct"] = (s["median_tps"] / direct) if (direct and s["median_tps"]) else None
        pb = per.get("pgbouncer", {})
        ratios = {}
        for name in SHARDGATES:
            sg = per.get(name, {})
            ratios[f"tps_{name}_over_pgbouncer"] = (
                sg["median_tps"] / pb["median_tps"]
                if sg.get("median_tps") and pb.get("median_tps") else None)
            ratios[f"cpu_{name}_over_pgbouncer"] = (
                sg["median_cpu_us_per_txn"] / pb["median_cpu_us_per_txn"]
                if sg.get("median_cpu_us_per_txn") and pb.get("median_cpu_us_per_txn") else None)
        base = per.get("sg-base", {})
        new = per.get("shardgate", {})
        if base.get("median_tps") and new.get("median_tps"):
            ratios["tps_shardgate_over_sg-base"] = new["median_tps"] / base["median_tps"]
        if base.get("median_cpu_us_per_txn") and new.get("median_cpu_us_per_txn"):
            ratios["cpu_shardgate_over_sg-base"] = (new["median_cpu_us_per_txn"] /
                                                   base["median_cpu_us_per_txn"])
        ratios["round_ratios"] = round_ratios(results, mode)
        summary[mode] = {"targets": per, **ratios}
    return summary


def round_ratios(results: list[RunResult], mode: str) -> dict:
    """Per-round ratios of shardgate to PgBouncer and to sg-base (rounds run the targets
    back to back, so a pair shares the machine's state): their spread says how much of a
    median ratio is the machine's noise."""
    by_round: dict = {}
    for r in results:
        if r.mode == mode and r.ok and r.tps:
            by_round.setdefault(r.round, {})[r.target] = r
    spreads = {}
    for name, other in (("shardgate", "pgbouncer"), ("sg-base", "pgbouncer"),
                        ("shardgate", "sg-base")):
        tps, cpu = [], []
        for pair in by_round.values():
            a, b = pair.get(name), pair.get(other)
            if not a or not b:
                continue
            tps.append(a.tps / b.tps)
            if a.cpu_us_per_txn and b.cpu_us_per_txn:
                cpu.append(a.cpu_us_per_txn / b.cpu_us_per_txn)
        if len(tps) >= 2:
            spreads[f"{name}/{other}"] = {"tps": sorted(tps), "cpu": sorted(cpu)}
    return spreads


def fmt(value, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def print_table(summary: dict, args, direct_note: str | None) -> None:
    print()
    print(f"clients={args.clients} jobs={args.jobs} seconds={args.seconds} rounds={args.rounds} "
          f"pool={args.pool} scale={args.scale} shardgate workers={args.workers or 'auto'} "
          f"cores={os.cpu_count()}" + (" tls=require (pgbench sslmode=require)" if args.tls else ""))
    header = (f"{'mode':<18} {'target':<10} {'ok/runs':>7} {'median tps':>11} {'vs direct':>9} "
              f"{'sg/pgb tps':>10} {'cpu µs/txn':>10} {'sg/pgb cpu':>10} {'srv conns':>9}  notes")
    print(header)
    print("-" * len(header))
    for mode, s in summary.items():
        for name, t in s["targets"].items():
            sg_tps = sg_cpu = ""
            if name in SHARDGATES:
                tps_ratio, cpu_ratio = s[f"tps_{name}_over_pgbouncer"], s[f"cpu_{name}_over_pgbouncer"]
                sg_tps = fmt(tps_ratio, ".2f") + ("x" if tps_ratio else "")
                sg_cpu = fmt(cpu_ratio, ".2f") + ("x" if cpu_ratio else "")
            cpu = "n/a" if name == "direct" else fmt(t["median_cpu_us_per_txn"], ".1f")
            notes = []
            if t["skipped"]:
                notes.append(f"skipped: {t['skipped']}")
            if t["failed_transactions"]:
                notes.append(f"{t['failed_transactions']} failed txns")
            if t["aborted_clients"]:
                notes.append(f"{t['aborted_clients']} aborted clients")
            if t["errors"]:
                notes.append("error: " + t["errors"][0])
            vs = fmt(t["vs_direct"], ".2f") + ("x" if t["vs_direct"] else "")
            ok = "skip" if t["skipped"] else f"{t['ok_runs']}/{t['runs']}"
            print(f"{mode:<18} {name:<10} {ok:>7} {fmt(t['median_tps'], '.0f', 'FAILED' if not t['skipped'] else '-'):>11} "
                  f"{vs:>9} {sg_tps:>10} {cpu:>10} {sg_cpu:>10} "
                  f"{fmt(t['max_server_connections'], 'd'):>9}  {'; '.join(notes)}")
    if direct_note:
        print(f"note: {direct_note}")
    for mode, s in summary.items():
        for pair, spread in s.get("round_ratios", {}).items():
            cpu = spread["cpu"]
            print(f"{mode}: {pair} per round: tps {spread['tps'][0]:.2f}-{spread['tps'][-1]:.2f}x"
                  + (f", CPU {cpu[0]:.2f}-{cpu[-1]:.2f}x" if cpu else "")
                  + f" ({len(spread['tps'])} rounds)")
    for mode, s in summary.items():
        if "tps_shardgate_over_sg-base" in s:
            print(f"{mode}: shardgate / sg-base (--baseline-bin): "
                  f"{s['tps_shardgate_over_sg-base']:.3f}x throughput, "
                  f"{fmt(s.get('cpu_shardgate_over_sg-base'), '.3f')}x CPU per transaction")
    print("cpu µs/txn = proxy process utime+stime over the pgbench run (connection setup "
          "included) / transactions processed; medians over the ok runs only.")
    print("srv conns = server connections sampled half-way through a run (max over runs): "
          "the proxy's TCP connections to PostgreSQL, or pgbench's backends when direct.")
    if any(m.startswith("connect") for m in summary):
        print("connect = pgbench -C: a new connection (TLS handshake with --tls, login, one "
              "SELECT) per transaction, so tps = new connections per second and cpu µs/txn = "
              "proxy CPU per connection.")


# --- main ------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50, help="pgbench -c (default 50)")
    p.add_argument("--jobs", type=int, default=2, help="pgbench -j (default 2)")
    p.add_argument("--seconds", type=int, default=10, help="pgbench -T per run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--pool", type=int, default=20, help="server pool size of both proxies (default 20)")
    p.add_argument("--modes", default=None,
                   help="comma list of pgbench -M modes: simple,prepared,extended, and connect "
                        "(simple with -C: new connections per second) (default simple,prepared; "
                        "with --tls simple,prepared,connect)")
    p.add_argument("--targets", default=None,
                   help="comma list of direct,pgbouncer,shardgate,sg-pipe,sg-base (default all; "
                        "sg-base only with --baseline-bin)")
    p.add_argument("--baseline-bin", help="a second shardgate binary run as target sg-base with "
                   "the tier defaults, interleaved with the others: before/after ratios of one run")
    p.add_argument("--workers", type=int, default=None,
                   help="shardgate worker threads (default: unset = one per core)")
    p.add_argument("--client-auth", choices=("md5", "scram-sha-256"), default="md5",
                   help="how pgbench authenticates to both proxies (default md5: cheap, so the "
                        "CPU per transaction is not dominated by 1000 SCRAM handshakes)")
    p.add_argument("--tenant-by", choices=("options", "user"), default="options",
                   help="how pgbench names the tenant to shardgate: startup options "
                        "(-c shardgate.tenant=acme, default) or user name app.acme")
    p.add_argument("--scale", type=int, default=10, help="pgbench -i -s (default 10)")
    p.add_argument("--warmup", type=int, default=2,
                   help="seconds of unmeasured simple-mode warm-up per target (default 2, 0 = none)")
    p.add_argument("--json", metavar="FILE", help="write configuration, every run and the summary")
    p.add_argument("--bin", help="shardgate binary (default $SHARDGATE_BIN or build/proxy/shardgate)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs)")
    p.add_argument("--pipeline-depth", type=int, default=1,
                   help="the sg-pipe target's tier pipeline_depth (default 1 = no pipelining; "
                        "the shardgate target keeps the tier default, 16)")
    p.add_argument("--scripts", default="plain",
                   help="comma list of statement shapes: plain (pgbench -S), orm (quoted, "
                        "table-qualified columns, LIMIT 21), qualified (tenant_acme.table), "
                        "sleep (SELECT pg_sleep(0.002)), mixed (one in ten a 20 ms pg_sleep); "
                        "each runs in every mode, named mode:shape in the table (default plain)")
    p.add_argument("--tls", action="store_true",
                   help="TLS between pgbench and both proxies (sslmode=require, one certificate "
                        "for PgBouncer and shardgate; bench/compare_tls.py); default targets "
                        "pgbouncer,shardgate, modes simple,prepared,connect")
    p.add_argument("--syscalls", action="store_true",
                   help="count each proxy's system calls per transaction with perf stat "
                        "(bench/syscall_count.py; shown in the per-run log lines)")
    p.add_argument("--guard", choices=("on", "off"), default="on",
                   help="shardgate's statement guard (off only to measure its cost; default on)")
    args = p.parse_args()
    if args.modes is None:
        args.modes = "simple,prepared,connect" if args.tls else "simple,prepared"
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.scripts = [s.strip() for s in args.scripts.split(",") if s.strip()]
    for s in args.scripts:
        if s not in SCRIPTS:
            p.error(f"unknown script {s!r}; choose from {', '.join(SCRIPTS)}")
    if args.targets is None and args.tls:
        # direct would be plaintext (the shard has no TLS); sg-pipe tests pooling, not TLS.
        args.targets = "pgbouncer,shardgate" + (",sg-base" if args.baseline_bin else "")
    if args.targets is None:
        args.targets = ",".join(t for t in TARGETS if t != "sg-base" or args.baseline_bin)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if "sg-base" in args.targets and not args.baseline_bin:
        p.error("target sg-base needs --baseline-bin")
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    for t in args.targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
    for name in ("clients", "jobs", "seconds", "rounds", "pool", "scale"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not 1 <= args.pipeline_depth <= 16:
        p.error("--pipeline-depth must be 1..16 (the tier key's range)")
    if args.seconds > 600 or args.rounds > 20 or args.clients > 5000:
        p.error("bounded runs only: --seconds <= 600, --rounds <= 20, --clients <= 5000")
    return args


def main() -> int:
    args = parse_args()
    binary = Path(args.bin or os.environ.get("SHARDGATE_BIN") or REPO / "build" / "proxy" / "shardgate")
    if any(t in args.targets for t in SHARDGATES) and not os.access(binary, os.X_OK):
        log(f"shardgate binary not found at {binary}; build it with bash scripts/build.sh "
            f"(bench/compare.sh does) or pass --bin / SHARDGATE_BIN")
        return 2
    if not shutil.which("pgbench"):
        log("pgbench not found (Debian postgresql-client-15)")
        return 2

    # Whole-run deadline: setup plus every run with its connect allowance, then SIGALRM.
    runs_planned = len(args.modes) * args.rounds * len(args.targets)
    budget = 600 + runs_planned * (args.seconds + 90 + args.clients * 0.05) \
        + len(args.targets) * (args.warmup + 60)
    def on_deadline(_signum, _frame):
        raise TimeoutError(f"compare.py exceeded its {budget:.0f} s deadline")
    signal.signal(signal.SIGALRM, on_deadline)
    signal.alarm(int(budget))

    fd_limit = raise_fd_limit(args.clients * 2 + 4096)
    log(f"open-file limit {fd_limit}; deadline {budget:.0f} s")

    global _cluster, _work_dir
    work = Path(tempfile.mkdtemp(prefix="sg-compare-", dir="/tmp"))
    os.chmod(work, 0o755)
    if args.keep:
        log(f"work folder {work} is kept")
    else:
        _work_dir = work

    # With a base_dir of ours pgshards keeps the folder; _cleanup removes it after the stop.
    cluster = _cluster = pgshards.ShardCluster(base_dir=work / "shards")
    log("starting PostgreSQL shard s1")
    shard = cluster.start_shard("s1")
    shard.sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    log(f"pgbench -i -s {args.scale} into {SCHEMA}")
    init_env = dict(os.environ, PGPASSWORD=shard.password, PGOPTIONS=f"-c search_path={SCHEMA}")
    init = subprocess.run(["pgbench", "-i", "-q", "-s", str(args.scale), "-h", shard.host,
                           "-p", str(shard.port), "-U", shard.user, shard.dbname],
                          env=init_env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed:\n{init.stdout}\n{init.stderr}")
    count = shard.scalar(f"SELECT count(*) FROM {SCHEMA}.pgbench_accounts")
    if count != args.scale * 100000:
        raise RuntimeError(f"{SCHEMA}.pgbench_accounts has {count} rows, expected {args.scale * 100000}")
    max_connections = int(shard.scalar("SHOW max_connections"))
    script = write_script(work, args.scale)
    shape_scripts = {shape: write_script(work, args.scale, shape) for shape in args.scripts}

    cert = None
    if args.tls:
        user = service_user()
        cert = compare_tls.make_certificate(work, (user.pw_uid, user.pw_gid) if user else None)
        log(f"--tls: both proxies show {cert.cert_file} and require TLS; pgbench uses "
            f"sslmode=require")
    targets: dict[str, Target] = {}
    direct_note = None
    if "direct" in args.targets:
        targets["direct"] = Target("direct", shard.host, shard.port, shard.user, shard.password,
                                   shard.dbname, f"-c search_path={SCHEMA}")
        if args.clients > max_connections - 5:
            direct_note = (f"direct skipped: {args.clients} clients exceed PostgreSQL "
                           f"max_connections={max_connections} (set by scripts/pgshards.py; "
                           f"the proxies need only --pool={args.pool} server connections)")
            log(direct_note)
    if "pgbouncer" in args.targets:
        log("starting pgbouncer (transaction mode)")
        targets["pgbouncer"] = start_pgbouncer(work, shard, args.pool, args.clients,
                                               args.client_auth, cert)
    if "shardgate" in args.targets:
        log(f"starting shardgate {binary}")
        targets["shardgate"] = start_shardgate(work, shard, binary, args.pool, args.workers,
                                               args.client_auth, args.tenant_by, args.guard,
                                               cert=cert)
    if "sg-pipe" in args.targets:
        log(f"starting shardgate {binary} with pipeline_depth {args.pipeline_depth} (sg-pipe)")
        targets["sg-pipe"] = start_shardgate(work, shard, binary, args.pool, args.workers,
                                             args.client_auth, args.tenant_by, args.guard,
                                             args.pipeline_depth, name="sg-pipe", cert=cert)
    if "sg-base" in args.targets:
        log(f"starting baseline shardgate {args.baseline_bin} (sg-base)")
        targets["sg-base"] = start_shardgate(work, shard, Path(args.baseline_bin), args.pool,
                                             args.workers, args.client_auth, args.tenant_by,
                                             args.guard, name="sg-base", cert=cert)
    broken: dict[str, str] = {}  # target -> why it is left out
    if direct_note:
        broken["direct"] = f"max_connections={max_connections}"
    for t in targets.values():
        try:
            agreed = check_target(t, args.scale)
        except Exception as exc:  # a broken target is reported, the others still run
            reason = " ".join(str(exc).split())[:200]
            broken[t.name] = f"health check failed: {reason}"
            log(f"{t.name} FAILED its health check, left out: {reason}"
                + (f"\n{tail(t.log_path)}" if t.log_path else ""))
            continue
        comm = Path(f"/proc/{t.proc.pid}/comm").read_text().strip() if t.proc else ""
        log(f"{t.name} on port {t.port}" + (f", pid {t.proc.pid} ({comm})" if t.proc else "")
            + f": serves {SCHEMA} ({agreed})")

    results: list[RunResult] = []
    order = [n for n in TARGETS if n in targets]
    runnable = [n for n in order if n not in broken]
    if args.warmup > 0:
        for name in runnable:
            r = run_pgbench(targets[name], script, "simple", min(args.clients, 50), args.jobs,
                            args.warmup, 0)
            log(f"warm-up {name}: {fmt(r.tps, '.0f')} tps" + (f" ({r.error})" if r.error else ""))

    labels = [mode_label(mode, shape) for mode in args.modes for shape in args.scripts]
    for mode, shape in [(m, sh) for m in args.modes for sh in args.scripts]:
        label = mode_label(mode, shape)
        for round_no in range(1, args.rounds + 1):
            # Rotate the order each round so no target always runs first (cache, thermal).
            shift = (round_no - 1) % len(order)
            for name in order[shift:] + order[:shift]:
                if name in broken:
                    results.append(RunResult(label, name, round_no, args.clients, args.seconds,
                                             skipped=broken[name]))
                    continue
                r = run_pgbench(targets[name], shape_scripts[shape], mode, args.clients,
                                args.jobs, args.seconds, round_no, shard,
                                [t for t in targets.values() if t.proc], label=label,
                                count_syscalls=args.syscalls)
                results.append(r)
                tps = f"{r.tps:>7.0f} tps" if r.tps is not None else "     no tps"
                log(f"{label:<8} round {round_no} {name:<9}: {tps}, {r.transactions} txns, "
                    f"{fmt(r.server_connections, 'd', '?')} server conns"
                    + (f", proxy cpu {r.proxy_cpu_seconds:.2f}s (user {r.proxy_user_seconds:.2f}s)"
                       f" = {fmt(r.cpu_us_per_txn, '.1f')} µs/txn"
                       if r.proxy_cpu_seconds is not None else "")
                    + (f", {r.syscalls_per_txn:.1f} syscalls/txn"
                       if r.syscalls_per_txn is not None else "")
                    + ("" if r.ok else f"  FAILED: {r.error}"))
                if targets[name].proc is not None and not targets[name].alive():
                    log(f"{name} died (exit {targets[name].proc.returncode}):\n"
                        f"{tail(targets[name].log_path)}")

    signal.alarm(0)
    summary = summarize(results, labels)
    print_table(summary, args, direct_note)
    if args.json:
        doc = {
            "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": {"cores": os.cpu_count(), "kernel": platform.release(),
                     "loadavg_at_end": os.getloadavg()},
            "config": {k: v for k, v in vars(args).items() if k not in ("json", "bin", "keep")},
            "shardgate_binary": str(binary) if any(t in targets for t in SHARDGATES) else None,
            "pgbouncer_version": subprocess.run(["pgbouncer", "--version"], capture_output=True,
                                                text=True).stdout.splitlines()[0]
                                  if "pgbouncer" in targets else None,
            "postgres_max_connections": max_connections,
            "direct_note": direct_note,
            "left_out": broken,
            "runs": [asdict(r) for r in results],
            "summary": summary,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        log(f"results written to {args.json}")
    # A target that failed its health check makes the run fail; failed pgbench runs (such as
    # PgBouncer with -M prepared) are results, reported in the table.
    return 1 if any(name != "direct" or not direct_note for name in broken) else 0


if __name__ == "__main__":
    sys.exit(main())
