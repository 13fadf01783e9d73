"""CREATE / DROP / ALTER TENANT through the admin socket: the schema (and role) on the shard
and the directory entry appear and disappear together, the directory file is rewritten, and
connected clients see the change at their next transaction."""
import json
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from admin_helpers import admin_error, admin_ok, admin_rows, rate_refusals
from proxyctl import directory_for

TEMPLATE = """CREATE SCHEMA {schema};
CREATE TABLE {schema}.items (id bigserial PRIMARY KEY, body text);
INSERT INTO {schema}.items (body) VALUES ('welcome ' || {tenant});"""


def schema_exists(shard, schema: str) -> bool:
    return bool(shard.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)))


def directory_file(proxy) -> dict:
    config = json.loads(Path(proxy.config_path).read_text())
    return yaml.safe_load(Path(config["directory"]["file"]).read_text())["tenants"] or {}


@pytest.fixture
def admin_proxy(start_proxy, launcher, shards):
    config = launcher.config(
        tiers={"default": {"pool": "shared", "pool_size": 10, "pool_mode": "transaction"},
               "walled": {"pool": "shared", "pool_size": 10, "pool_mode": "transaction",
                          "role": "tenant_{tenant}"}},
        provisioning={"schema_sql": TEMPLATE})
    config["admin"] = {"audit_log": str(launcher.root / f"audit-{time.monotonic_ns()}.log")}
    proxy = start_proxy(config, directory_for({"acme": "s1", "initech": "s1", "globex": "s2"}))
    yield proxy
    for name in ("newco", "walledco", "placed", "failing"):
        for shard in shards.values():
            shard.sql(f"DROP SCHEMA IF EXISTS tenant_{name} CASCADE")
    for shard in shards.values():
        shard.sql("DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenant_walledco') "
                  "THEN DROP OWNED BY tenant_walledco; DROP ROLE tenant_walledco; END IF; END $$")


def test_create_connect_drop(admin_proxy, shards):
    proxy = admin_proxy
    # Not there yet: the tenant is unknown.
    with pytest.raises(psycopg.OperationalError, match="not in the shard directory"):
        proxy.connect(tenant="newco")
    assert not schema_exists(shards["s2"], "tenant_newco")

    admin_ok(proxy, "CREATE TENANT newco ON SHARD s2")
    assert schema_exists(shards["s2"], "tenant_newco")
    assert directory_file(proxy)["newco"] == {"shard": "s2", "tier": "default"}
    with proxy.connect(tenant="newco") as conn:
        assert conn.execute("SELECT body FROM items").fetchone() == ("welcome newco",)
        conn.execute("INSERT INTO items (body) VALUES ('second')")
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_newco",)
        row = admin_rows(proxy, "SHOW TENANT newco")[0]
        assert (row["shard"], row["tier"], row["state"]) == ("s2", "default", "active")

        admin_ok(proxy, "DROP TENANT newco")
        # The connected client gets 3D000 at its next transaction; the connection stays.
        with pytest.raises(psycopg.errors.InvalidCatalogName):
            conn.execute("SELECT 1")
    assert not schema_exists(shards["s2"], "tenant_newco")
    assert "newco" not in directory_file(proxy)
    with pytest.raises(psycopg.OperationalError, match="not in the shard directory"):
        proxy.connect(tenant="newco")
    assert 'tenant "newco" is not in the directory' in admin_error(proxy, "SHOW TENANT newco")


def test_drop_keep_data_leaves_the_schema(admin_proxy, shards):
    proxy = admin_proxy
    admin_ok(proxy, "CREATE TENANT newco ON SHARD s1")
    admin_ok(proxy, "DROP TENANT newco KEEP DATA")
    assert schema_exists(shards["s1"], "tenant_newco")
    assert "newco" not in directory_file(proxy)


def test_failing_template_leaves_nothing_behind(start_proxy, launcher, shards):
    broken = TEMPLATE + "\nSELECT 1 / 0;"
    config = launcher.config(provisioning={"schema_sql": broken})
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    err = admin_error(proxy, "CREATE TENANT failing ON SHARD s1")
    assert "could not provision tenant" in err and "division by zero" in err
    assert not schema_exists(shards["s1"], "tenant_failing")
    assert "failing" not in directory_file(proxy)
    assert 'not in the directory' in admin_error(proxy, "SHOW TENANT failing")
    with pytest.raises(psycopg.OperationalError, match="not in the shard directory"):
        proxy.connect(tenant="failing")


def test_refusals(admin_proxy):
    proxy = admin_proxy
    assert "already exists" in admin_error(proxy, "CREATE TENANT acme")
    assert 'no shard named "s9"' in admin_error(proxy, "CREATE TENANT newco ON SHARD s9")
    assert 'no tier named "gold"' in admin_error(proxy, "CREATE TENANT newco TIER gold")
    assert "invalid tenant id" in admin_error(proxy, "CREATE TENANT \"bad id\"")
    assert "not in the directory" in admin_error(proxy, "DROP TENANT nosuch")
    assert "not in the directory" in admin_error(proxy, "ALTER TENANT nosuch SET RATE 5")
    assert set(directory_file(proxy)) == {"acme", "initech", "globex"}


def test_placement_on_the_least_loaded_shard(admin_proxy, shards):
    proxy = admin_proxy  # s1 has acme and initech, s2 has globex
    admin_ok(proxy, "CREATE TENANT placed")
    assert directory_file(proxy)["placed"]["shard"] == "s2"
    assert schema_exists(shards["s2"], "tenant_placed")


def test_role_tier_creates_and_drops_the_role(admin_proxy, shards):
    proxy = admin_proxy
    admin_ok(proxy, "CREATE TENANT walledco ON SHARD s1 TIER walled")
    assert shards["s1"].scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'tenant_walledco'")
    with proxy.connect(tenant="walledco") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("tenant_walledco",)
        conn.execute("INSERT INTO items (body) VALUES ('mine')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM tenant_acme.items")
    admin_ok(proxy, "DROP TENANT walledco")
    assert not shards["s1"].scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'tenant_walledco'")
    assert not schema_exists(shards["s1"], "tenant_walledco")


def test_alter_rate_and_max_clients_apply_to_connected_clients(admin_proxy):
    proxy = admin_proxy
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
        admin_ok(proxy, "ALTER TENANT acme SET RATE 1")
        assert directory_file(proxy)["acme"]["rate"]["queries_per_second"] == 1
        refused = rate_refusals(conn, 5)
        assert refused >= 3
        admin_ok(proxy, "ALTER TENANT acme SET RATE 0")  # 0 = no limit
        for _ in range(20):
            conn.execute("SELECT 1")
        admin_ok(proxy, "ALTER TENANT acme SET MAX_CLIENT_CONNECTIONS 1")
        with pytest.raises(psycopg.OperationalError, match="too many client connections"):
            proxy.connect(tenant="acme")


def test_alter_tier_moves_a_connected_client(admin_proxy, shards):
    proxy = admin_proxy
    s1 = shards["s1"]
    if not s1.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'tenant_acme'"):
        s1.sql("CREATE ROLE tenant_acme NOLOGIN")
    s1.sql("GRANT USAGE ON SCHEMA tenant_acme TO tenant_acme")
    s1.sql("GRANT SELECT ON ALL TABLES IN SCHEMA tenant_acme TO tenant_acme")
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("shardgate",)
        admin_ok(proxy, "ALTER TENANT acme SET TIER walled")
        # The same connection: its next transaction runs under tier walled (SET ROLE).
        assert conn.execute("SELECT current_user").fetchone() == ("tenant_acme",)
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
        admin_ok(proxy, "ALTER TENANT acme SET TIER default")
        assert conn.execute("SELECT current_user").fetchone() == ("shardgate",)
    assert directory_file(proxy)["acme"]["tier"] == "default"
    assert "no tier named" in admin_error(proxy, "ALTER TENANT acme SET TIER gold")


def test_audit_log_records_changes(admin_proxy):
    proxy = admin_proxy
    admin_ok(proxy, "CREATE TENANT newco ON SHARD s1")
    admin_error(proxy, "CREATE TENANT newco ON SHARD s1")
    admin_ok(proxy, "SHOW TENANTS")  # not a change: not audited
    admin_ok(proxy, "DROP TENANT newco")
    config = json.loads(Path(proxy.config_path).read_text())
    lines = [json.loads(line) for line in Path(config["admin"]["audit_log"]).read_text().splitlines()]
    assert [line["command"] for line in lines] == ["CREATE TENANT newco ON SHARD s1",
                                                   "CREATE TENANT newco ON SHARD s1",
                                                   "DROP TENANT newco"]
    assert [line["result"].split(":")[0] for line in lines] == ["ok", "error", "ok"]
    assert all(line["admin_user"] == "admin" and line["time"].endswith("Z") for line in lines)


def test_kill_9_during_create_burst_leaves_a_loadable_directory(start_proxy, launcher, shards,
                                                                binary):
    config = launcher.config(provisioning={"schema_sql": "CREATE SCHEMA {schema};"})
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    names = [f"burst{i:03d}" for i in range(200)]
    script = "\n".join(f"CREATE TENANT {n} ON SHARD s{1 + i % 2};" for i, n in enumerate(names))
    cfg = json.loads(Path(proxy.config_path).read_text())
    burst = subprocess.Popen(
        ["psql", "-X", "-q", "-h", cfg["admin"]["socket_dir"], "-p", str(cfg["admin"]["port"]),
         "-U", "admin", "-d", "admin"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    burst.stdin.write(script)
    burst.stdin.close()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(directory_file(proxy)) < 10:
            time.sleep(0.02)
        proxy.kill()  # SIGKILL mid-burst
        burst.wait(timeout=20)
        entries = directory_file(proxy)
        assert 10 <= len(entries) < 201, len(entries)
        check = subprocess.run([str(binary), "--check-config", str(proxy.config_path)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        # Every tenant in the directory has its schema: entries are written after the commit.
        for name, entry in entries.items():
            if name.startswith("burst"):
                assert schema_exists(shards[entry["shard"]], f"tenant_{name}"), name
        # And the proxy starts again on that directory.
        again = start_proxy(json.loads(Path(proxy.config_path).read_text()))
        assert len(admin_rows(again, "SHOW TENANTS LIKE 'burst%'")) == len(entries) - 1
    finally:
        if burst.poll() is None:
            burst.kill()
        for name in names:
            for shard in shards.values():
                shard.sql(f"DROP SCHEMA IF EXISTS tenant_{name}")


def test_login_tenant_tier_creates_a_login_role(start_proxy, launcher, shards, monkeypatch):
    monkeypatch.setenv("SG_PW_loginco", "pw-loginco-1")
    config = launcher.config(
        tiers={"own": {"pool": "dedicated", "pool_size": 2, "pool_mode": "transaction",
                       "login": "tenant", "login_password": "env:SG_PW_{tenant}"}},
        provisioning={"schema_sql": TEMPLATE})
    proxy = start_proxy(config, directory_for({"acme": "s1"}, tier="own"))
    s2 = shards["s2"]
    try:
        admin_ok(proxy, "CREATE TENANT loginco ON SHARD s2 TIER own")
        assert s2.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tenant_loginco'")
        with proxy.connect(tenant="loginco") as conn:
            # The server connection logged in as the tenant's own role.
            assert conn.execute("SELECT session_user, current_user").fetchone() == \
                ("tenant_loginco", "tenant_loginco")
            conn.execute("INSERT INTO items (body) VALUES ('own login')")
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        admin_ok(proxy, "DROP TENANT loginco")
        assert not s2.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'tenant_loginco'")
        assert not schema_exists(s2, "tenant_loginco")
    finally:
        s2.sql("DROP SCHEMA IF EXISTS tenant_loginco CASCADE")
        s2.sql("DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenant_loginco') "
               "THEN DROP OWNED BY tenant_loginco; DROP ROLE tenant_loginco; END IF; END $$")


def test_session_mode_client_of_a_dropped_tenant_is_ended(start_proxy, launcher, shards):
    config = launcher.config(provisioning={"schema_sql": TEMPLATE})  # session-mode tier
    proxy = start_proxy(config, directory_for({"acme": "s1", "globex": "s2"}))
    admin_ok(proxy, "CREATE TENANT newco ON SHARD s1")
    with proxy.connect(tenant="newco") as gone, proxy.connect(tenant="acme") as stays:
        gone.execute("CREATE TEMP TABLE scratch (x int)")
        stays.execute("CREATE TEMP TABLE scratch (x int)")
        admin_ok(proxy, "ALTER TENANT globex SET RATE 100")  # another tenant's change
        gone.execute("INSERT INTO scratch VALUES (1)")  # session state survives it
        admin_ok(proxy, "DROP TENANT newco")
        with pytest.raises(psycopg.OperationalError, match="not in the shard directory"):
            gone.execute("SELECT 1")
        stays.execute("INSERT INTO scratch VALUES (1)")  # other sessions keep their state
        assert stays.execute("SELECT count(*) FROM scratch").fetchone() == (1,)
    assert not schema_exists(shards["s1"], "tenant_newco")
