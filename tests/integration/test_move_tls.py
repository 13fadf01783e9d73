"""Tenant moves between shards that run with ssl = on. Every connection a move makes to a shard
follows that shard's TLS settings in shardgate's config, as the pools do: with
sslmode=verify-full (the shards' certificates checked against the test CA) the move works end
to end, and while it is held in its schema step every connection of the move on the source,
pg_dump's included, is encrypted; with sslmode=disable none is (libpq's own default, prefer,
would have encrypted pg_dump's without checking anything)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import pgshards
from proxyctl import ProxyLauncher
from test_move_faults import Mover, pg_dump_waiting, table_locked, wait_until
from test_moves import LOGICAL, directory_shard, provision, replication_leftovers, schemas
from test_tls import Pki


@pytest.fixture(scope="module")
def tls_move(binary):
    # The subscription's connection string names the CA file: the target's server (another OS
    # user) reads it, so the folder and the certificate are world-readable (not the keys).
    root = Path(tempfile.mkdtemp(prefix="sg-move-pki-"))
    os.chmod(root, 0o755)
    pki = Pki(root)
    pki.make_server("shard", "IP:127.0.0.1")
    os.chmod(pki.path("ca.crt"), 0o644)
    cluster = pgshards.ShardCluster()
    shards = {name: cluster.start_shard(name, server_settings=LOGICAL,
                                        ssl_files=(pki.path("shard.crt"), pki.path("shard.key")))
              for name in ("t1", "t2")}
    launcher = ProxyLauncher(shards, binary)
    yield pki, shards, launcher
    launcher.cleanup()
    cluster.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def move_connections(shard: pgshards.Shard) -> list[tuple[bool, str]]:
    """(encrypted, running query) of every connection of the move on `shard`."""
    return [(row[0], row[1][:60]) for row in shard.sql(
        "SELECT s.ssl, a.query FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
        "WHERE a.application_name = 'shardgate move' ORDER BY a.pid")]


@pytest.mark.parametrize("sslmode", ["verify-full", "disable"])
def test_move_follows_the_shards_tls_settings(tls_move, sslmode):
    pki, shards, launcher = tls_move
    t1, t2 = shards["t1"], shards["t2"]
    tenant = "mtls" + sslmode[0]
    provision(t1, tenant, 500)
    config = launcher.config(tiers={"txn": {"pool": "shared", "pool_size": 20,
                                            "pool_mode": "transaction"}})
    for name in shards:
        config["shards"][name]["sslmode"] = sslmode
        if sslmode == "verify-full":
            config["shards"][name]["sslrootcert"] = pki.path("ca.crt")
    proxy = launcher.start(config, {"tenants": {
        tenant: {"shard": "t1", "tier": "txn", "schema": f"tenant_{tenant}"}}})
    with table_locked(t1, tenant):  # holds pg_dump (the schema step) on its lock
        mover = Mover(proxy, tenant, to="t2")
        mover.start()
        wait_until(lambda: pg_dump_waiting(t1), "pg_dump to wait for the lock")
        connections = move_connections(t1)
    # The move's control connection and pg_dump, at least.
    assert len(connections) >= 2, connections
    assert all(ssl == (sslmode != "disable") for ssl, _ in connections), connections
    result = mover.finish()
    assert result.returncode == 0, result.stderr
    assert directory_shard(proxy, tenant) == "t2"
    assert schemas(t2, tenant) == [f"tenant_{tenant}"]
    assert replication_leftovers(t1) == [] and replication_leftovers(t2) == []
    with proxy.connect(tenant=tenant) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 500
