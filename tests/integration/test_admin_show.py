"""The admin socket's SHOW commands through psql on the Unix socket: typed rows, errors with
SQLSTATEs, file mode 0600."""
import json
import os
import stat
from pathlib import Path

import pytest

from admin_helpers import admin_error, admin_psql, admin_rows


@pytest.fixture(scope="module")
def busy_proxy(proxy):
    """The module proxy with one client of acme connected (an idle session-mode server)."""
    conn = proxy.connect(tenant="acme")
    conn.execute("SELECT 1")
    yield proxy, conn
    conn.close()


def test_socket_file_is_private(proxy):
    config = json.loads(Path(proxy.config_path).read_text())
    path = Path(config["admin"]["socket_dir"]) / f".s.PGSQL.{config['admin']['port']}"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)


def test_help_version_config(proxy):
    help_rows = admin_rows(proxy, "SHOW HELP")
    commands = " ".join(r["command"] for r in help_rows)
    for word in ("CREATE TENANT", "DROP TENANT", "ALTER TENANT", "PAUSE TENANT", "RELOAD",
                 "SHUTDOWN"):
        assert word in commands
    assert admin_rows(proxy, "show version;")[0]["version"].startswith("shardgate ")
    config = {r["key"]: r["value"] for r in admin_rows(proxy, "SHOW CONFIG")}
    assert config["listen"] == f"{proxy.host}:{proxy.port}"
    assert config["tiers.default.pool_mode"] == "session"
    for value in config.values():
        assert "scram-sha-256$" not in value.lower()  # no secrets in SHOW CONFIG


def test_shards_tenants_and_one_tenant(busy_proxy):
    proxy, _ = busy_proxy
    shards = {r["shard"]: r for r in admin_rows(proxy, "SHOW SHARDS")}
    assert set(shards) == {"s1", "s2"}
    assert shards["s1"]["tenants"] == "2" and shards["s2"]["tenants"] == "2"
    assert shards["s1"]["paused"] == "f"
    tenants = {r["tenant"]: r for r in admin_rows(proxy, "SHOW TENANTS")}
    assert set(tenants) == {"acme", "initech", "globex", "benchco"}
    acme = tenants["acme"]
    assert (acme["shard"], acme["tier"], acme["schema"]) == ("s1", "default", "tenant_acme")
    assert int(acme["clients"]) >= 1 and int(acme["queries"]) >= 1
    assert acme["state"] == "active"
    assert float(acme["p99_ms"]) > 0
    assert tenants["initech"]["state"] == "idle"
    like = admin_rows(proxy, "SHOW TENANTS LIKE 'g%'")
    assert [r["tenant"] for r in like] == ["globex"]
    one = admin_rows(proxy, "SHOW TENANT acme")
    assert len(one) == 1 and one[0]["tenant"] == "acme"
    assert 'tenant "nosuch" is not in the directory' in admin_error(proxy, "SHOW TENANT nosuch")


def test_pools_clients_servers_stats(busy_proxy):
    proxy, conn = busy_proxy
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    pools = admin_rows(proxy, "SHOW POOLS")
    s1 = [p for p in pools if p["pool"] == "s1/default"]
    assert s1 and int(s1[0]["active"]) >= 1 and s1[0]["size"] == "50"
    clients = admin_rows(proxy, "SHOW CLIENTS")
    acme = [c for c in clients if c["tenant"] == "acme"]
    assert acme and acme[0]["shard"] == "s1" and acme[0]["user"] == "app"
    assert acme[0]["client"].startswith("127.0.0.1:")
    servers = admin_rows(proxy, "SHOW SERVERS")
    assert any(s["pid"] == str(pid) and s["state"] == "active" and s["tenant"] == "acme"
               for s in servers), servers
    stats = admin_rows(proxy, "SHOW STATS")[0]
    assert int(stats["directory_tenants"]) == 4
    assert int(stats["queries"]) >= 2


def test_errors_have_sqlstates_and_session_survives(proxy):
    import psycopg
    config = json.loads(Path(proxy.config_path).read_text())
    with psycopg.connect(host=config["admin"]["socket_dir"], port=config["admin"]["port"],
                         user="admin", dbname="admin", autocommit=True) as conn:
        def fails(sql: bytes) -> tuple[str, str]:
            result = conn.pgconn.exec_(sql)
            assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR, sql
            return (result.error_field(psycopg.pq.DiagnosticField.SQLSTATE).decode(),
                    result.error_field(psycopg.pq.DiagnosticField.MESSAGE_PRIMARY).decode())
        assert fails(b"SELECT 1") == ("42601", "unknown command 'SELECT'; try SHOW HELP")
        state, message = fails(b"SHOW TENANTS; SHOW POOLS")
        assert state == "42601" and "one command at a time" in message
        assert fails(b"SHOW TENANT nosuch")[0] == "3D000"
        assert fails(b"RESUME TENANT acme") == ("55000", 'tenant "acme" is not paused')
        assert fails(b"CREATE TENANT 'bad id!'")[0] == "22023"
        # After every error the same connection still answers.
        assert conn.pgconn.exec_(b"SHOW VERSION").get_value(0, 0).startswith(b"shardgate")
        # Columns are typed: int8 for counts, float8 for latencies, bool for flags.
        result = conn.pgconn.exec_(b"SHOW TENANTS")
        types = {result.fname(i).decode(): result.ftype(i) for i in range(result.nfields)}
        assert types["clients"] == 20 and types["p99_ms"] == 701 and types["tenant"] == 25
        shards = conn.pgconn.exec_(b"SHOW SHARDS")
        assert {shards.fname(i): shards.ftype(i) for i in range(shards.nfields)}[b"paused"] == 16


def test_only_the_admin_user(proxy):
    r = admin_psql(proxy, "SHOW VERSION", user="app")
    assert r.returncode != 0 and 'only accepts user "admin"' in r.stderr


def test_extended_protocol_is_refused_cleanly(proxy):
    import psycopg
    config = json.loads(Path(proxy.config_path).read_text())
    with psycopg.connect(host=config["admin"]["socket_dir"], port=config["admin"]["port"],
                         user="admin", dbname="admin", autocommit=True) as conn:
        result = conn.pgconn.exec_params(b"SHOW VERSION", [])  # Parse/Bind/Execute/Sync
        assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"0A000"
        # The simple protocol still works on the same connection.
        assert conn.pgconn.exec_(b"SHOW VERSION").get_value(0, 0).startswith(b"shardgate")
