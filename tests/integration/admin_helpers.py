"""Talking to shardgate's admin socket the way operators do: psql on the Unix socket."""
import json
import subprocess
from pathlib import Path

import psycopg

from proxyctl import Proxy


def admin_psql(proxy: Proxy, sql: str, timeout: float = 60, user: str = "admin",
               extra_env: dict | None = None, host: str | None = None,
               port: int | None = None) -> subprocess.CompletedProcess:
    """psql -h <admin socket dir> -p <admin port> -U admin -c SQL (header line kept)."""
    config = json.loads(Path(proxy.config_path).read_text())
    admin = config["admin"]
    env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10", **(extra_env or {})}
    cmd = ["psql", "-X", "-A", "-F", "|", "-P", "footer=off", "-v", "ON_ERROR_STOP=1",
           "-h", host or admin["socket_dir"], "-p", str(port or admin["port"]), "-U", user,
           "-d", "admin", "-c", sql]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def admin_rows(proxy: Proxy, sql: str) -> list[dict]:
    """Runs a SHOW and returns its rows as dicts keyed by column name."""
    r = admin_psql(proxy, sql)
    assert r.returncode == 0, f"{sql}: {r.stderr}"
    lines = [line for line in r.stdout.splitlines() if line]
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"))) for line in lines[1:]]


def admin_ok(proxy: Proxy, sql: str) -> str:
    r = admin_psql(proxy, sql)
    assert r.returncode == 0, f"{sql}: {r.stderr}"
    return r.stdout.strip()


def admin_error(proxy: Proxy, sql: str) -> str:
    r = admin_psql(proxy, sql)
    assert r.returncode != 0, f"{sql} should fail, got {r.stdout}"
    return r.stderr


def rate_refusals(conn: psycopg.Connection, count: int) -> int:
    """Runs SELECT 1 `count` times; how many were refused for the tenant's rate (53400)."""
    refused = 0
    for _ in range(count):
        try:
            conn.execute("SELECT 1")
        except psycopg.errors.ConfigurationLimitExceeded:
            refused += 1
    return refused
