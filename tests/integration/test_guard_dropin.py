"""What real applications send, through the guard (issue "The guard, exact both ways"):

- session mode: SQL-level PREPARE / DEALLOCATE followed by SET, RESET ALL, DISCARD ALL, DISCARD
  PLANS keeps the client's server connection (it used to be retired: FATAL 08006 next);
- transaction mode: DECLARE ... WITH HOLD is refused at the DECLARE (0A000, with a hint),
  while session mode keeps it working as PostgreSQL does;
- a refused statement is logged with its SQLSTATE and text, and reaches the client without
  the PL/pgSQL context of the mechanism shardgate uses inside transactions;
- startup search_path lists: the tenant's schema plus shared schemas applied as written,
  anything else refused at connect time.
Each behaviour is first shown on a direct connection to the shard, where it applies.
"""
from __future__ import annotations

import psycopg
import pytest

from txn_helpers import txn_config

MODES = ("session", "transaction")


@pytest.fixture(scope="module")
def mode_proxies(launcher):
    started = {}
    for mode in MODES:
        config = txn_config(launcher, pool_size=2, pool_mode=mode)
        config["guard"] = {"shared_schemas": ["reference"]}
        started[mode] = launcher.start(config)
    yield started
    for proxy in started.values():
        launcher.stop(proxy)


def direct(shard, schema: str = "tenant_acme") -> psycopg.Connection:
    conn = shard.connect()
    conn.execute(f"SET search_path = {schema}")
    return conn


SETTLE = ["SET work_mem = '8MB'", "RESET ALL", "DISCARD PLANS", "DISCARD ALL"]


@pytest.mark.parametrize("follow", SETTLE)
def test_sql_prepare_deallocate_then_session_command(follow, mode_proxies, shards):
    # (the last statement names the schema: RESET ALL / DISCARD ALL reset a direct
    # connection's search_path, while shardgate puts the tenant's back)
    steps = ["PREPARE p AS SELECT count(*) FROM items", "EXECUTE p", "DEALLOCATE p", follow,
             "SELECT count(*) FROM tenant_acme.items"]
    with direct(shards["s1"]) as conn:
        expected = [conn.execute(s).fetchall() if s.startswith(("EXECUTE", "SELECT"))
                    else conn.execute(s) and None for s in steps]
    with mode_proxies["session"].connect(tenant="acme") as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        got = [conn.execute(s).fetchall() if s.startswith(("EXECUTE", "SELECT"))
               else conn.execute(s) and None for s in steps]
        assert got == expected
        # Still the same server connection: the client's own, kept through DEALLOCATE.
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == pid


def test_with_hold_cursor_refused_at_declare_in_transaction_mode(mode_proxies, shards):
    with direct(shards["s1"]) as conn:   # PostgreSQL keeps the cursor past the transaction
        conn.execute("DECLARE c CURSOR WITH HOLD FOR SELECT body FROM items ORDER BY id")
        assert conn.execute("FETCH 1 FROM c").fetchone()[0].startswith("acme ")
    with mode_proxies["transaction"].connect(tenant="acme") as conn:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("DECLARE c CURSOR WITH HOLD FOR SELECT body FROM items")
        assert err.value.sqlstate == "0A000"
        assert "DISABLE_SERVER_SIDE_CURSORS" in (err.value.diag.message_hint or "")
        # A cursor inside a transaction block still works.
        conn.execute("BEGIN")
        conn.execute("DECLARE c2 CURSOR FOR SELECT body FROM items ORDER BY id")
        assert conn.execute("FETCH 1 FROM c2").fetchone()[0].startswith("acme ")
        conn.execute("COMMIT")
    with mode_proxies["session"].connect(tenant="acme") as conn:
        conn.execute("DECLARE c CURSOR WITH HOLD FOR SELECT body FROM items ORDER BY id")
        assert conn.execute("FETCH 1 FROM c").fetchone()[0].startswith("acme ")


@pytest.mark.parametrize("mode", MODES)
def test_refusal_is_logged_and_carries_no_plpgsql_context(mode, mode_proxies):
    proxy = mode_proxies[mode]
    with proxy.connect(tenant="acme") as conn:
        conn.execute("BEGIN")   # inside a transaction: the server raises the refusal
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SELECT body FROM tenant_globex.items WHERE body = 'marker-in-txn'")
        assert err.value.sqlstate == "42501"
        assert err.value.diag.context is None, err.value.diag.context
        assert "inline_code_block" not in str(err.value)
        conn.execute("ROLLBACK")
        with pytest.raises(psycopg.Error) as err:   # outside: answered by shardgate itself
            conn.execute("SELECT body FROM tenant_globex.items WHERE body = 'marker-idle'")
        assert err.value.sqlstate == "42501"
    log = proxy.log()
    for marker in ("marker-in-txn", "marker-idle"):
        lines = [l for l in log.splitlines() if "statement refused" in l and marker in l]
        assert lines, f"no 'statement refused' line with the statement text ({marker})"
        assert "42501" in lines[0]


@pytest.mark.parametrize("mode", MODES)
def test_startup_search_path_list(mode, mode_proxies):
    proxy = mode_proxies[mode]
    dsn = proxy.conninfo(options="-c shardgate.tenant=acme -c search_path=tenant_acme,reference")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(3):
            assert conn.execute("SHOW search_path").fetchone() == ("tenant_acme, reference",)
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
    for bad in ("tenant_acme,public", "tenant_globex", "reference,tenant_globex", "\"$user\""):
        dsn = proxy.conninfo(options=f"-c shardgate.tenant=acme -c search_path={bad}")
        with pytest.raises(psycopg.OperationalError) as err:
            psycopg.connect(dsn, autocommit=True).close()
        assert "42501" in str(err.value) or "search_path" in str(err.value), (bad, err.value)


@pytest.mark.parametrize("mode", MODES)
def test_default_search_path_is_written_as_postgres_writes_it(mode, mode_proxies, shards):
    with direct(shards["s1"]) as conn:
        direct_value = conn.execute("SHOW search_path").fetchone()
    with mode_proxies[mode].connect(tenant="acme") as conn:
        assert conn.execute("SHOW search_path").fetchone() == direct_value == ("tenant_acme",)
