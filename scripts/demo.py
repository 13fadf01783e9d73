#!/usr/bin/python3
"""shardgate's embedded demo: two local PostgreSQL shards, three tenants, shardgate on 6432.

    bash scripts/demo.sh               # installs, builds, then runs this in the foreground
    /usr/bin/python3 scripts/demo.py [--bin PATH] [--smoke]

Data lives in ./data/demo (SHARDGATE_DEMO_DIR); shardgate listens on 127.0.0.1:6432
(SHARDGATE_DEMO_PORT). Ctrl-C or SIGTERM stops shardgate and both shards. --smoke starts
everything, checks two psql sessions see their own tenant's rows, stops and exits 0 or 1.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgshards  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARD_PASSWORD = "shardgate-demo"
APP_PASSWORD = "app"
TENANTS = {"acme": "s1", "globex": "s2", "initech": "s1"}
TIERS = {"acme": "pro", "globex": "pro", "initech": "free"}


def log(text: str) -> None:
    print(f"demo: {text}", flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def choose_port(smoke: bool) -> int:
    if "SHARDGATE_DEMO_PORT" in os.environ:
        return int(os.environ["SHARDGATE_DEMO_PORT"])
    if port_is_free(6432) or not smoke:
        return 6432
    port = pgshards.free_port()
    log(f"port 6432 is busy; the smoke test uses {port}")
    return port


def shard_dir(demo_dir: Path) -> Path:
    """Where the shards' data goes: demo_dir/shards, unless the PostgreSQL user cannot reach it
    (as root, with the repository under a private home): then a stable folder under /tmp."""
    preferred = demo_dir / "shards"
    preferred.mkdir(parents=True, exist_ok=True)
    pgshards.ensure_service_user()
    if pgshards.service_user_can_enter(preferred):
        return preferred
    tag = hashlib.sha1(str(demo_dir).encode()).hexdigest()[:8]
    fallback = Path(f"/tmp/shardgate-demo-{tag}")
    log(f"user {pgshards.SERVICE_USER} cannot reach {preferred}; shard data goes to {fallback}")
    return fallback


def write_config(demo_dir: Path, port: int, shards: dict) -> Path:
    shard_lines = "\n".join(
        f"  {name}: {{ host: 127.0.0.1, port: {s.port}, dbname: app, user: shardgate, "
        f"password: \"{s.password}\" }}" for name, s in shards.items())
    config = f"""\
# Written by scripts/demo.py for the embedded demo (format: docs/configuration.md).
listen: 127.0.0.1:{port}
connect_timeout: 5s
shutdown_timeout: 5s
admin:
  socket_dir: {demo_dir}
  port: {port}
log: {{ level: info, format: text }}
auth:
  users:
    - {{ name: app, password: "{APP_PASSWORD}", auth: scram-sha-256, tenants: "*" }}
tenant:
  sources: [options, user_suffix, session]
  user_separator: "."
  schema_template: "tenant_{{tenant}}"
shards:
{shard_lines}
tiers:
  free: {{ pool: shared, pool_size: 10, pool_mode: transaction, pool_timeout: 5s }}
  pro:  {{ pool: shared, pool_size: 20, pool_mode: transaction, pool_timeout: 5s, weight: 2 }}
directory:
  file: {demo_dir / "directory.yaml"}
  default_placement: reject
provisioning:   # what CREATE TENANT runs on the shard (admin socket)
  schema_sql: |
    CREATE SCHEMA {{schema}};
    CREATE TABLE {{schema}}.items (id bigserial PRIMARY KEY, body text);
"""
    directory = "# Written by scripts/demo.py: tenant -> placement.\ntenants:\n" + "".join(
        f"  {tenant}: {{ shard: {shard}, tier: {TIERS[tenant]}, schema: tenant_{tenant} }}\n"
        for tenant, shard in TENANTS.items())
    (demo_dir / "directory.yaml").write_text(directory)
    path = demo_dir / "shardgate.yaml"
    path.write_text(config)
    return path


def psql_lines(port: int) -> list[tuple[str, str]]:
    """(tenant, command) pairs to try, tenant by options and by user-name suffix."""
    return [
        ("acme", f"PGPASSWORD={APP_PASSWORD} psql \"host=127.0.0.1 port={port} user=app dbname=app "
                 f"options='-c shardgate.tenant=acme'\""),
        ("globex", f"PGPASSWORD={APP_PASSWORD} psql \"host=127.0.0.1 port={port} user=app.globex dbname=app\""),
        ("initech", f"PGPASSWORD={APP_PASSWORD} psql \"host=127.0.0.1 port={port} user=app.initech dbname=app\""),
    ]


def admin_line(demo_dir: Path, port: int) -> str:
    return f"psql -h {demo_dir} -p {port} -U admin admin   # admin socket: SHOW TENANTS; SHOW HELP"


def smoke_check(port: int, demo_dir: Path) -> bool:
    ok = True
    admin = subprocess.run(["psql", "-X", "-A", "-t", "-h", str(demo_dir), "-p", str(port), "-U",
                            "admin", "-d", "admin", "-c", "SHOW TENANTS"],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    tenants = sorted(line.split("|")[0] for line in admin.stdout.splitlines() if line)
    good = admin.returncode == 0 and tenants == sorted(TENANTS)
    log(f"smoke admin socket: {'ok' if good else 'FAILED'}: {tenants} {admin.stderr.strip()}")
    ok = ok and good
    for tenant, line in psql_lines(port)[:2]:
        conninfo = line.split("psql ", 1)[1].strip('"')
        env = dict(os.environ, PGPASSWORD=APP_PASSWORD, PGCONNECT_TIMEOUT="10")
        env.pop("PGOPTIONS", None)
        out = subprocess.run(["psql", "-X", "-A", "-t", conninfo, "-c",
                              "SELECT current_schema(); SELECT body FROM items ORDER BY id"],
                             env=env, capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
        lines = out.stdout.split("\n")
        good = (out.returncode == 0 and lines[0] == f"tenant_{tenant}"
                and [l for l in lines[1:] if l] == [f"{tenant} secret {n}" for n in (1, 2, 3)])
        log(f"smoke {tenant}: {'ok' if good else 'FAILED'}: {out.stdout.strip()!r} {out.stderr.strip()}")
        ok = ok and good
    return ok


class Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise Stop(signum)


def run(args) -> int:
    binary = Path(args.bin or os.environ.get("SHARDGATE_BIN") or REPO / "build" / "proxy" / "shardgate")
    if not binary.exists():
        log(f"shardgate binary not found at {binary}; build it with bash scripts/build.sh")
        return 1
    demo_dir = Path(os.environ.get("SHARDGATE_DEMO_DIR", REPO / "data" / "demo")).absolute()
    demo_dir.mkdir(parents=True, exist_ok=True)
    port = choose_port(args.smoke)
    if not port_is_free(port):
        log(f"port {port} is busy; set SHARDGATE_DEMO_PORT to another port")
        return 1

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    cluster = pgshards.ShardCluster(shard_dir(demo_dir), keep=True)
    proxy = None
    try:
        shards = {}
        for name in ("s1", "s2"):
            log(f"starting shard {name}")
            shards[name] = cluster.start_shard(name, password=SHARD_PASSWORD)
        for tenant, shard in TENANTS.items():
            pgshards.provision_tenant(shards[shard], tenant)
            log(f"tenant {tenant}: schema tenant_{tenant} on {shard} (port {shards[shard].port})")
        config_path = write_config(demo_dir, port, shards)
        log(f"config {config_path}")
        proxy = subprocess.Popen([str(binary), "--config", str(config_path)],
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        if not wait_for_proxy(proxy, port):
            log("shardgate did not start")
            return 1
        log(f"shardgate (pid {proxy.pid}) listens on 127.0.0.1:{port}. Try:")
        for _tenant, line in psql_lines(port):
            print(f"  {line}")
        print("  then: SELECT current_schema(), inet_server_port(); SELECT * FROM items;", flush=True)
        print(f"  {admin_line(demo_dir, port)}", flush=True)
        if args.smoke:
            return 0 if smoke_check(port, demo_dir) else 1
        log("Ctrl-C stops shardgate and both shards.")
        code = proxy.wait()
        log(f"shardgate exited with {code}")
        return code
    except Stop:
        log("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if proxy is not None and proxy.poll() is None:
            proxy.terminate()
            try:
                proxy.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
        cluster.stop_all()
        log("stopped")


def wait_for_proxy(proxy: subprocess.Popen, port: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.poll() is not None:
            return False
        if pgshards.wait_for_port(port, timeout=0.2):
            return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="shardgate binary (default: $SHARDGATE_BIN or build/proxy/shardgate)")
    parser.add_argument("--smoke", action="store_true",
                        help="start, check two tenants with psql, stop; exit 0 or 1")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
