"""A tier that names a `role` makes shardgate SET ROLE on the server connection, so PostgreSQL
privileges back the tenant's schema. On a direct connection (test_harness) the shardgate role
reads every tenant's tables; through a role tier, only the tenant's own."""
import psycopg
import pytest

from proxyctl import directory_for


@pytest.fixture(scope="module")
def tenant_roles(shards):
    s1 = shards["s1"]
    for tenant in ("acme", "initech"):
        role = f"tenant_{tenant}"
        if not s1.scalar("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)):
            s1.sql(f"CREATE ROLE {role} NOLOGIN")
        s1.sql(f"GRANT USAGE ON SCHEMA tenant_{tenant} TO {role}")
        s1.sql(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA tenant_{tenant} TO {role}")
    # Shown directly: the proxy's own login reads both tenants.
    assert s1.scalar("SELECT count(*) FROM tenant_initech.items") == 3
    return s1


def test_role_tier_sets_role_and_privileges_hold(start_proxy, launcher, tenant_roles):
    config = launcher.config(tiers={"walled": {"pool": "shared", "pool_size": 10,
                                               "pool_mode": "session", "role": "tenant_{tenant}"}})
    proxy = start_proxy(config, directory_for({"acme": "s1", "initech": "s1"}, tier="walled"))
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute("SELECT current_user, session_user").fetchone() == ("tenant_acme", "shardgate")
        assert [b for (b,) in conn.execute("SELECT body FROM items ORDER BY id")][:3] == \
            [f"acme secret {n}" for n in (1, 2, 3)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT body FROM tenant_initech.items")
    with proxy.connect(tenant="initech") as conn:  # the next tenant gets its own role
        assert conn.execute("SELECT current_user").fetchone() == ("tenant_initech",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT body FROM tenant_acme.items")
