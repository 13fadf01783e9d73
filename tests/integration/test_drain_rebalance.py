"""DRAIN SHARD / UNDRAIN SHARD (and REBALANCE) across three real PostgreSQL 15 shards with
wal_level=logical, driven through the admin socket while clients keep writing through
shardgate. The moves themselves are tested in test_moves.py; here: which tenants move where,
that nothing is lost, and that a draining shard gets no new tenants."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml

import pgshards
from admin_helpers import admin_psql, admin_rows
from proxyctl import ProxyLauncher
from test_moves import LOGICAL, Writer, provision, replication_leftovers

SHARDS = ("r1", "r2", "r3")


@pytest.fixture(scope="module")
def shards():
    cluster = pgshards.ShardCluster()
    started = {name: cluster.start_shard(name, server_settings=LOGICAL) for name in SHARDS}
    yield started
    cluster.cleanup()


@pytest.fixture(scope="module")
def launcher(shards, binary):
    launcher = ProxyLauncher(shards, binary)
    yield launcher
    launcher.cleanup()


def start(launcher: ProxyLauncher, tenants: dict[str, str], draining: list[str] | None = None):
    config = launcher.config(
        tiers={"txn": {"pool": "shared", "pool_size": 20, "pool_mode": "transaction",
                       "pause_timeout": "30s"}},
        directory={"default_placement": {"hash": list(SHARDS), "tier": "txn"}})
    directory = {"tenants": {t: {"shard": s, "tier": "txn"} for t, s in tenants.items()}}
    if draining:
        directory["draining"] = draining
    return launcher.start(config, directory)


def restart(launcher: ProxyLauncher, proxy):
    assert launcher.stop(proxy) is None
    return launcher.start(json.loads(Path(proxy.config_path).read_text()))


def directory_file(proxy) -> dict:
    config = json.loads(Path(proxy.config_path).read_text())
    return yaml.safe_load(Path(config["directory"]["file"]).read_text())


def placements(proxy) -> dict[str, str]:
    return {t: e["shard"] for t, e in directory_file(proxy)["tenants"].items()}


def admin_error(proxy, sql: str) -> tuple[str, str, str]:
    """(SQLSTATE, message, hint) of a command that must fail."""
    config = json.loads(Path(proxy.config_path).read_text())
    with psycopg.connect(host=config["admin"]["socket_dir"], port=config["admin"]["port"],
                         user="admin", dbname="admin", autocommit=True) as conn:
        result = conn.pgconn.exec_(sql.encode())
        assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR, sql
        field = lambda f: (result.error_field(f) or b"").decode()
        return (field(psycopg.pq.DiagnosticField.SQLSTATE),
                field(psycopg.pq.DiagnosticField.MESSAGE_PRIMARY),
                field(psycopg.pq.DiagnosticField.MESSAGE_HINT))


def fnv1a64(text: str) -> int:
    h = 14695981039346656037
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def hashed_to(shard: str, prefix: str) -> str:
    """A tenant id default_placement's hash puts on `shard` (over SHARDS)."""
    return next(f"{prefix}{i}" for i in range(1000)
                if SHARDS[fnv1a64(f"{prefix}{i}") % len(SHARDS)] == shard)


def server_port(proxy, tenant: str) -> int:
    with proxy.connect(tenant=tenant) as conn:
        return conn.execute("SELECT inet_server_port()").fetchone()[0]


def state(proxy, shard: str) -> dict:
    return {r["shard"]: r for r in admin_rows(proxy, "SHOW SHARDS")}[shard]


def test_drain_shard_empties_it_and_new_tenants_avoid_it_until_undrain(shards, launcher):
    r1, r2, r3 = (shards[s] for s in SHARDS)
    for tenant, shard, rows in (("dra", r3, 3000), ("drb", r3, 200), ("drc", r1, 10),
                                ("drd", r2, 10)):
        provision(shard, tenant, rows)
    # A tenant default_placement's hash puts on r3, with no directory entry.
    implicit = hashed_to("r3", "drh")
    provision(r3, implicit, 50)
    proxy = start(launcher, {"dra": "r3", "drb": "r3", "drc": "r1", "drd": "r2"})
    assert server_port(proxy, implicit) == r3.port

    stop = threading.Event()
    writers = [Writer(proxy, "dra", n, stop) for n in range(2)]
    for w in writers:
        w.start()
    time.sleep(0.3)
    drained = admin_psql(proxy, "DRAIN SHARD r3", timeout=120)
    time.sleep(0.3)
    stop.set()
    for w in writers:
        w.join(30)
    assert drained.returncode == 0, drained.stderr
    notices = [line for line in drained.stderr.splitlines() if "drain r3: moving tenant" in line]
    assert len(notices) == 3, drained.stderr
    assert "drain r3: no tenants left on the shard" in drained.stderr
    moved = [line.split("|") for line in drained.stdout.strip().splitlines()[1:]]
    assert sorted(m[1] for m in moved) == sorted(["dra", "drb", implicit])
    assert all(m[2] == "r3" and m[3] in ("r1", "r2") for m in moved)

    # Directory and data: nothing of any tenant is left live on r3.
    where = placements(proxy)
    assert "r3" not in where.values() and where[implicit] in ("r1", "r2")
    assert [n for (n,) in r3.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%' "
                                  "AND nspname NOT LIKE '%%\\_\\_moved\\_%%'")] == []
    for s in shards.values():
        assert replication_leftovers(s) == []
    # Every acknowledged write of the writers is on dra's new shard; the copy is complete.
    target = shards[where["dra"]]
    acked = {(w.number, seq) for w in writers for seq in w.acked_inserts}
    assert len(acked) > 20
    on_target = set(target.sql("SELECT writer, seq FROM tenant_dra.items WHERE writer IS NOT NULL"))
    assert acked <= on_target
    assert target.scalar("SELECT count(*) FROM tenant_dra.items WHERE writer IS NULL") == 3000
    assert [e for w in writers for e in w.errors] == []
    assert shards[where[implicit]].scalar(f"SELECT count(*) FROM tenant_{implicit}.items") == 50
    assert server_port(proxy, implicit) == shards[where[implicit]].port

    # A draining shard gets no new tenants: not by CREATE TENANT, not by the hash, not by MOVE.
    row = state(proxy, "r3")
    assert (row["state"], row["tenants"]) == ("draining", "0")
    assert directory_file(proxy)["draining"] == ["r3"]
    for n in range(3):
        assert admin_psql(proxy, f"CREATE TENANT drn{n}").returncode == 0
    assert all(placements(proxy)[f"drn{n}"] != "r3" for n in range(3))
    code, message, hint = admin_error(proxy, "CREATE TENANT drx ON SHARD r3")
    assert code == "55000" and "draining" in message and "UNDRAIN SHARD r3" in hint
    assert "drx" not in placements(proxy) and r3.sql(
        "SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_drx'") == []
    code, message, _ = admin_error(proxy, "MOVE TENANT drc TO SHARD r3")
    assert code == "55000" and "draining" in message
    fresh = hashed_to("r3", "drf")
    assert server_port(proxy, fresh) != r3.port

    # The flag survives a restart (it lives in the directory file).
    proxy = restart(launcher, proxy)
    assert state(proxy, "r3")["state"] == "draining"
    assert server_port(proxy, fresh) != r3.port

    assert admin_psql(proxy, "UNDRAIN SHARD r3").returncode == 0
    assert state(proxy, "r3")["state"] == "active"
    assert "draining" not in directory_file(proxy)
    assert admin_psql(proxy, "CREATE TENANT drm").returncode == 0
    assert placements(proxy)["drm"] == "r3"  # now the least loaded
    assert server_port(proxy, fresh) == r3.port


def test_drain_refusals(shards, launcher):
    provision(shards["r1"], "dre", 1)
    proxy = start(launcher, {"dre": "r1"}, draining=["r2", "r3"])
    assert state(proxy, "r2")["state"] == "draining"
    code, message, _ = admin_error(proxy, "DRAIN SHARD nowhere")
    assert code == "3D000" and "nowhere" in message
    code, message, hint = admin_error(proxy, "DRAIN SHARD r1")
    assert code == "55000" and "no shard to drain" in message and "UNDRAIN" in hint
    assert state(proxy, "r1")["state"] == "active" and placements(proxy) == {"dre": "r1"}
    assert admin_psql(proxy, "CREATE TENANT drz").returncode == 0
    assert placements(proxy)["drz"] == "r1"
    assert admin_error(proxy, "UNDRAIN SHARD nowhere")[0] == "3D000"
