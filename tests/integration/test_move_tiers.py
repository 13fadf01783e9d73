"""Moves of tenants whose tier gives them a PostgreSQL role: a `role` tier (shardgate runs SET
ROLE to the tenant's NOLOGIN role on a shared pool) and a `login: tenant` tier (the tenant's
dedicated pool logs in as the tenant's own LOGIN role). The role, its password and its grants
must exist on the target before the flip, and tables the tenant's role created (and so owns)
on the source must stay usable by it on the target."""
from __future__ import annotations

import psycopg
import pytest

import pgshards
from admin_helpers import admin_psql
from test_moves import (  # noqa: F401 - fixtures used by name
    directory_shard, move, move_launcher, move_shards, replication_leftovers)

TEMPLATE = """CREATE SCHEMA {schema};
CREATE TABLE {schema}.items (id bigserial PRIMARY KEY, body text);
INSERT INTO {schema}.items (body) VALUES ('welcome ' || {tenant});"""


def admin_ok(proxy, command: str):
    result = admin_psql(proxy, command, timeout=60)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result


def drop_role(shard: pgshards.Shard, role: str) -> None:
    shard.sql(f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
              f"DROP OWNED BY {role}; DROP ROLE {role}; END IF; END $$")


def cleanup(shards, tenant: str) -> None:
    for shard in shards.values():
        for (schema,) in shard.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                   (f"tenant_{tenant}%",)):
            shard.sql(f'DROP SCHEMA "{schema}" CASCADE')
        drop_role(shard, f"tenant_{tenant}")


def use_tenant(proxy, tenant: str, expect_user: str) -> int:
    """Works as the tenant through shardgate: reads, inserts into the provisioned table and
    into one its own role created; returns the provisioned table's row count."""
    with proxy.connect(tenant=tenant) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == expect_user
        conn.execute("INSERT INTO items (body) VALUES ('after the move')")
        conn.execute("INSERT INTO notes (body) VALUES ('own table after the move')")
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 2
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def test_role_tier_tenant_moves_with_its_role_and_grants(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvrole"
    config = move_launcher.config(
        tiers={"roled": {"pool": "shared", "pool_size": 4, "pool_mode": "transaction",
                         "role": "tenant_{tenant}"}},
        provisioning={"schema_sql": TEMPLATE})
    proxy = move_launcher.start(config, {"tenants": {}})
    try:
        admin_ok(proxy, f"CREATE TENANT {tenant} ON SHARD m1 TIER roled")
        with proxy.connect(tenant=tenant) as conn:
            # Created as the tenant's role: it owns this table on the source.
            conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
            conn.execute("INSERT INTO notes (body) VALUES ('before')")
            conn.execute("INSERT INTO items (body) VALUES ('before')")
        assert not m2.scalar("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                             (f"tenant_{tenant}",))
        result = admin_ok(proxy, f"MOVE TENANT {tenant} TO SHARD m2 PAUSE BUDGET 10s")
        assert "pre-checks passed (2 table(s))" in result.stderr, result.stderr
        assert " MB/s)" in result.stderr and "copy done: 2 table(s)" in result.stderr, result.stderr
        assert directory_shard(proxy, tenant) == "m2"
        assert m2.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                         (f"tenant_{tenant}",)) is False
        assert use_tenant(proxy, tenant, f"tenant_{tenant}") == 3
        # The role's privileges still bound it on the target: another schema there is not its.
        with proxy.connect(tenant=tenant) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM public.items")
        assert replication_leftovers(m1) == [] and replication_leftovers(m2) == []
    finally:
        move_launcher.stop(proxy)
        cleanup(move_shards, tenant)


def start_login_tier(move_launcher, monkeypatch, tenant: str, password: str):
    """A proxy whose tier `own` gives each tenant a dedicated pool logging in as its own role
    with the password in SG_PW_<tenant>."""
    monkeypatch.setenv(f"SG_PW_{tenant}", password)
    config = move_launcher.config(
        tiers={"own": {"pool": "dedicated", "pool_size": 2, "pool_mode": "transaction",
                       "login": "tenant", "login_password": "env:SG_PW_{tenant}"}},
        provisioning={"schema_sql": TEMPLATE})
    return move_launcher.start(config, {"tenants": {}})


def test_login_tenant_tier_tenant_moves_with_its_login_role(move_shards, move_launcher,
                                                           monkeypatch):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvlogin"
    proxy = start_login_tier(move_launcher, monkeypatch, tenant, "pw-mvlogin-1")
    try:
        admin_ok(proxy, f"CREATE TENANT {tenant} ON SHARD m1 TIER own")
        with proxy.connect(tenant=tenant) as conn:
            assert conn.execute("SELECT session_user").fetchone()[0] == f"tenant_{tenant}"
            conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
            conn.execute("INSERT INTO notes (body) VALUES ('before')")
        result = admin_ok(proxy, f"MOVE TENANT {tenant} TO SHARD m2 PAUSE BUDGET 10s")
        # The dedicated pool logged in on the target before the flip.
        assert "pool opened on m2" in result.stderr
        assert directory_shard(proxy, tenant) == "m2"
        assert m2.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                         (f"tenant_{tenant}",)) is True
        with proxy.connect(tenant=tenant) as conn:
            # Logged in on the target as the tenant's role, with the password its pool uses.
            assert conn.execute("SELECT session_user, inet_server_port()").fetchone() == \
                (f"tenant_{tenant}", m2.port)
        assert use_tenant(proxy, tenant, f"tenant_{tenant}") == 2
    finally:
        move_launcher.stop(proxy)
        cleanup(move_shards, tenant)


def test_login_the_target_refuses_fails_the_move_before_the_flip(move_shards, move_launcher,
                                                                monkeypatch):
    """The tenant's role already exists on the target with another password (left by an
    operator): the pool cannot log in there, so the move must fail before the flip and leave
    the tenant serving from the source."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvbadpw"
    proxy = start_login_tier(move_launcher, monkeypatch, tenant, "pw-right")
    try:
        admin_ok(proxy, f"CREATE TENANT {tenant} ON SHARD m1 TIER own")
        m2.sql(f"CREATE ROLE tenant_{tenant} LOGIN PASSWORD 'pw-wrong'")
        m2.sql(f"GRANT tenant_{tenant} TO {m2.user}")
        result = admin_psql(proxy, f"MOVE TENANT {tenant} TO SHARD m2 PAUSE BUDGET 10s",
                            timeout=60)
        assert result.returncode != 0
        assert "could not log in to shard" in result.stderr, result.stderr
        assert directory_shard(proxy, tenant) == "m1"
        assert replication_leftovers(m1) == [] and replication_leftovers(m2) == []
        assert not m2.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                             (f"tenant_{tenant}",))
        with proxy.connect(tenant=tenant) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1
    finally:
        move_launcher.stop(proxy)
        cleanup(move_shards, tenant)
