"""The harness itself, on direct connections (no shardgate needed).

These also show, on a direct connection, the leaks the isolation tests guard against: an
unscoped `SELECT body FROM items` returns rows that are no tenant's, and the neighbouring
tenant's rows sit on the same shard.
"""
import psycopg
import pytest

import pgwire
from proxyctl import TENANT_SHARDS


def test_tenants_are_provisioned_on_their_shard_only(shards):
    for tenant, shard_name in TENANT_SHARDS.items():
        for name, shard in shards.items():
            present = shard.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                   (f"tenant_{tenant}",))
            assert present == (1 if name == shard_name else 0), (tenant, name)
        bodies = shards[shard_name].sql(f"SELECT body FROM tenant_{tenant}.items ORDER BY id")
        assert [b for (b,) in bodies] == [f"{tenant} secret {n}" for n in (1, 2, 3)]


def test_direct_connection_without_tenant_context_leaks(shards):
    s1 = shards["s1"]
    with s1.connect() as conn:
        assert [b for (b,) in conn.execute("SELECT body FROM items ORDER BY id")] == \
            ["public leak 1", "public leak 2"]
        # Both tenants of s1 are reachable by name from one unguarded session.
        assert conn.execute("SELECT count(*) FROM tenant_acme.items").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM tenant_initech.items").fetchone()[0] == 3


def test_shard_restart_keeps_data(cluster):
    shard = cluster.start_shard("s_restart")
    try:
        shard.sql("CREATE TABLE kept (v int)")
        shard.sql("INSERT INTO kept VALUES (42)")
        shard.restart()
        assert shard.scalar("SELECT v FROM kept") == 42
    finally:
        shard.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(shard.conninfo(), connect_timeout=2)


@pytest.mark.parametrize("shard_fixture,name", [("shards", "s1"), ("auth_shards", "s_md5"),
                                                ("auth_shards", "s_trust")])
def test_raw_client_logs_in_and_reports_sqlstates(request, shard_fixture, name):
    shard = request.getfixturevalue(shard_fixture)[name]
    with pgwire.RawConnection(shard.host, shard.port) as conn:
        conn.startup(shard.user, shard.password, database="app")
        assert conn.parameters["server_version"].startswith("15")
        assert conn.backend_key is not None
        assert conn.query("SELECT 1, NULL") == [("1", None)]
        with pytest.raises(pgwire.ServerError) as err:
            conn.query("SELECT * FROM no_such_table")
        assert err.value.sqlstate == "42P01"
    err = pgwire.startup_error(shard.host, shard.port, shard.user, shard.password, database="nodb")
    assert (err.severity, err.sqlstate) == ("FATAL", "3D000")
    if name != "s_trust":
        err = pgwire.startup_error(shard.host, shard.port, shard.user, "wrong")
        assert (err.severity, err.sqlstate) == ("FATAL", "28P01")


def test_auth_shards_really_use_their_methods(auth_shards):
    md5, trust = auth_shards["s_md5"], auth_shards["s_trust"]
    rules = "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
    assert md5.sql(rules) == [("md5",)]
    assert trust.sql(rules) == [("trust",)]
    assert md5.scalar("SELECT rolpassword LIKE 'md5%%' FROM pg_authid WHERE rolname = 'shardgate'")
