"""Tenants land on their shard and in their schema by every source, and see only their rows.

The leak these guard against is shown on direct connections in test_harness.py: an unscoped
`SELECT body FROM items` returns 'public leak' rows, and neighbours share a shard. Here each
test also checks directly that the other tenants' rows are really there to leak.
"""
import pytest

from proxyctl import APP_PASSWORD, TENANT_SHARDS, directory_for, psql

WHERE_AM_I = "SELECT current_schema(), current_setting('shardgate.tenant'), inet_server_port()"
TENANTS = ["acme", "initech", "globex"]


def expected_rows(tenant):
    return [f"{tenant} secret {n}" for n in (1, 2, 3)]


def assert_neighbours_exist(shards, tenant):
    """The rows this tenant must not see do exist: the public ones and the other tenants'."""
    shard = shards[TENANT_SHARDS[tenant]]
    assert shard.scalar("SELECT count(*) FROM public.items WHERE body LIKE 'public leak%%'") == 2
    for other, other_shard in TENANT_SHARDS.items():
        if other != tenant:
            assert shards[other_shard].scalar(f"SELECT count(*) FROM tenant_{other}.items") >= 3


def assert_tenant_session(conn, shards, tenant):
    schema, setting, port = conn.execute(WHERE_AM_I).fetchone()
    assert (schema, setting, port) == (f"tenant_{tenant}", tenant, shards[TENANT_SHARDS[tenant]].port)
    bodies = [b for (b,) in conn.execute("SELECT body FROM items ORDER BY id")]
    assert bodies[:3] == expected_rows(tenant)
    assert all(b.startswith(f"{tenant} ") for b in bodies), bodies
    assert_neighbours_exist(shards, tenant)


@pytest.mark.parametrize("tenant", TENANTS)
def test_options_source(proxy, shards, tenant):
    with proxy.connect(tenant=tenant) as conn:
        assert_tenant_session(conn, shards, tenant)


@pytest.mark.parametrize("tenant", TENANTS)
def test_user_suffix_source(proxy, shards, tenant):
    with proxy.connect(user=f"app.{tenant}", password=APP_PASSWORD) as conn:
        assert_tenant_session(conn, shards, tenant)


def test_client_dbname_plays_no_part_without_database_is_tenant(proxy, shards):
    with proxy.connect(tenant="globex", dbname="whatever_the_app_uses") as conn:
        assert_tenant_session(conn, shards, "globex")


@pytest.mark.parametrize("how", ["pgoptions", "user_suffix"])
def test_psql_lands_in_tenant(proxy, shards, how):
    kwargs = {"tenant": "acme"} if how == "pgoptions" else {"user": "app.acme", "password": APP_PASSWORD}
    out = psql(proxy, "SELECT current_schema(), inet_server_port(); SELECT body FROM items ORDER BY id",
               **kwargs)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == f"tenant_acme|{shards['s1'].port}"
    assert lines[1:4] == expected_rows("acme")
    assert all(line.startswith("acme ") for line in lines[1:]), lines
    assert_neighbours_exist(shards, "acme")


def test_database_source(start_proxy, launcher, shards):
    config = launcher.config(tenant={"sources": ["options", "user_suffix", "database"],
                                     "database_is_tenant": True,
                                     "schema_template": "tenant_{tenant}"})
    proxy = start_proxy(config)
    for tenant in TENANTS:
        with proxy.connect(dbname=tenant) as conn:
            assert_tenant_session(conn, shards, tenant)
    out = psql(proxy, "SELECT current_schema()", conninfo="dbname=initech")
    assert (out.returncode, out.stdout.strip()) == (0, "tenant_initech"), out.stderr


def test_alternating_tenants_never_inherit_context(proxy, shards):
    """acme and initech share s1: a server connection reused by the other tenant must be re-scoped."""
    for _ in range(4):
        for tenant in ("acme", "initech"):
            with proxy.connect(tenant=tenant) as conn:
                assert_tenant_session(conn, shards, tenant)


def test_concurrent_tenants_on_one_shard(proxy, shards):
    conns = {t: proxy.connect(tenant=t) for t in ("acme", "initech", "globex")}
    try:
        for _ in range(3):
            for tenant, conn in conns.items():
                assert_tenant_session(conn, shards, tenant)
    finally:
        for conn in conns.values():
            conn.close()


def test_writes_land_in_tenant_schema(proxy, shards):
    with proxy.connect(tenant="initech") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS routed_writes (v text)")
        conn.execute("INSERT INTO routed_writes VALUES ('initech wrote this')")
    s1, s2 = shards["s1"], shards["s2"]
    assert s1.scalar("SELECT count(*) FROM tenant_initech.routed_writes") >= 1
    assert s1.scalar("SELECT to_regclass('public.routed_writes') IS NULL")
    assert s1.scalar("SELECT to_regclass('tenant_acme.routed_writes') IS NULL")
    assert s2.scalar("SELECT to_regclass('tenant_initech.routed_writes') IS NULL")


def test_directory_entry_without_schema_uses_schema_template(start_proxy, shards):
    """SPEC: `acme: { shard: s1, tier: pro }` takes its schema from tenant.schema_template."""
    proxy = start_proxy(directory=directory_for(TENANT_SHARDS, explicit_schema=False))
    for tenant in TENANTS:
        with proxy.connect(tenant=tenant) as conn:
            assert_tenant_session(conn, shards, tenant)


def test_default_placement_hash_places_unknown_tenants_stably(start_proxy, launcher, shards):
    config = launcher.config()
    config["directory"]["default_placement"] = {"hash": ["s1", "s2"], "tier": "default"}
    proxy = start_proxy(config)
    ports = {}
    for n in range(16):
        tenant = f"hashco{n}"
        for _ in range(2):  # the same tenant lands on the same shard every time
            with proxy.connect(tenant=tenant) as conn:
                setting, port = conn.execute(
                    "SELECT current_setting('shardgate.tenant'), inet_server_port()").fetchone()
            assert setting == tenant
            assert ports.setdefault(tenant, port) == port
    assert set(ports.values()) == {shards["s1"].port, shards["s2"].port}, ports
    with proxy.connect(tenant="globex") as conn:  # directory entries still win
        assert_tenant_session(conn, shards, "globex")


def test_transaction_pool_switches_context_on_a_shared_server_connection(start_proxy, launcher, shards):
    """Two tenants take turns on ONE server connection (transaction mode, pool_size 1): each
    statement must run in its own tenant's context."""
    config = launcher.config(tiers={"default": {"pool": "shared", "pool_size": 1,
                                                "pool_mode": "transaction"}})
    proxy = start_proxy(config)
    acme, initech = proxy.connect(tenant="acme"), proxy.connect(tenant="initech")
    try:
        backends = set()
        for _ in range(5):
            for tenant, conn in (("acme", acme), ("initech", initech)):
                assert_tenant_session(conn, shards, tenant)
                backends.add(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        assert len(backends) == 1, f"expected one shared server connection, saw {backends}"
    finally:
        acme.close()
        initech.close()
