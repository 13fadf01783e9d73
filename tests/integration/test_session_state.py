"""Session state pooling cannot hand back clean (issue 14 items 5 and 6, docs/pooling.md
"What shardgate does with session state").

Transaction mode: a statement whose effect outlives its transaction (temporary table without
ON COMMIT DROP, SQL PREPARE, WITH HOLD, session advisory lock, LOAD) is refused with 0A000
and a hint (tier `session_state: refuse`, the default), by simple query and by an
extended-protocol Parse alike, with the guard on or off; otherwise one client's temporary
`items` silently replaces the real `items` for the tenant's next client on that server
connection. The leak is shown first on a direct connection, then through shardgate with
`session_state: allow` (PgBouncer's behaviour), then its absence with the default.

Session mode: a server connection whose client used temporary tables is closed at the end of
the session instead of reused (DISCARD ALL drops the tables but `temp_buffers` stays fixed:
`SET temp_buffers` fails for the next client); one without is reused.
"""
from __future__ import annotations

import psycopg
import pytest

from txn_helpers import txn_config

REFUSED = [
    ("temp_table", "CREATE TEMP TABLE items (id int, body text)", "ON COMMIT DROP"),
    ("temp_delete_rows", "CREATE TEMP TABLE items (body text) ON COMMIT DELETE ROWS",
     "ON COMMIT DROP"),
    ("temp_as", "CREATE TEMP TABLE items AS SELECT 'TEMP' AS body", "ON COMMIT DROP"),
    ("select_into_temp", "SELECT 'TEMP' AS body INTO TEMP items", "ON COMMIT DROP"),
    ("pg_temp_table", "CREATE TABLE pg_temp.items (body text)", "ON COMMIT DROP"),
    ("temp_view", "CREATE TEMP VIEW items AS SELECT 'TEMP' AS body", "pool_mode: session"),
    ("temp_sequence", "CREATE TEMP SEQUENCE sg_temp_seq", "pool_mode: session"),
    ("sql_prepare", "PREPARE sg_p AS SELECT 1", "protocol-level prepared statements"),
    ("advisory_lock", "SELECT pg_advisory_lock(4242)", "pg_advisory_xact_lock"),
    ("try_advisory_lock_shared", "SELECT pg_try_advisory_lock_shared(4242)",
     "pg_advisory_xact_lock"),
    ("with_hold", "DECLARE sg_c CURSOR WITH HOLD FOR SELECT 1", "DISABLE_SERVER_SIDE_CURSORS"),
    ("do_block_temp", "DO $$BEGIN CREATE TEMP TABLE items (body text); END$$", "ON COMMIT DROP"),
    # Types in pg_temp are found before the tenant's own by unqualified name.
    ("temp_type", "CREATE TYPE pg_temp.items AS (body text)", "tenant's own schema"),
    ("temp_domain", "CREATE DOMAIN pg_temp.body_t AS text", "tenant's own schema"),
    ("listen", "LISTEN jobs", "pool_mode: session"),
]


def start_txn(launcher, session_state: str | None = None, guard: bool = True, pool_size=1):
    config = txn_config(launcher, pool_size=pool_size)
    if session_state is not None:
        config["tiers"]["default"]["session_state"] = session_state
    if not guard:
        config["guard"] = {"enabled": False}
    return launcher.start(config)


@pytest.fixture(scope="module")
def txn_proxies(launcher):
    """pool_size 1: every client of the tenant gets the same server connection in turn."""
    started = {"refuse": start_txn(launcher), "allow": start_txn(launcher, "allow"),
               "refuse_no_guard": start_txn(launcher, guard=False)}
    yield started
    for proxy in started.values():
        launcher.stop(proxy)


def real_items(shard) -> list[str]:
    return [r[0] for r in shard.sql("SELECT body FROM tenant_acme.items ORDER BY id")]


def test_temp_table_shadows_the_real_table_directly(shards):
    """On one server session, the next user of `items` gets the temporary table."""
    with shards["s1"].connect() as conn:
        conn.execute("SET search_path = tenant_acme")
        conn.execute("CREATE TEMP TABLE items (id int, body text)")
        conn.execute("INSERT INTO items VALUES (1, 'TEMP')")
        # ... the transaction is over; a pooler would now give this session to the next client
        assert conn.execute("SELECT body FROM items").fetchall() == [("TEMP",)]


def test_listen_outlives_the_transaction_directly(shards):
    with shards["s1"].connect() as conn:
        with conn.transaction():
            conn.execute("LISTEN jobs")
        # ... a pooler would now give this session to the next client, which listens to jobs
        assert conn.execute("SELECT pg_listening_channels()").fetchall() == [("jobs",)]


def test_listen_reaches_the_next_client_through_session_state_allow(txn_proxies):
    proxy = txn_proxies["allow"]
    with proxy.connect(tenant="acme") as first:
        first.execute("LISTEN jobs")
    with proxy.connect(tenant="acme") as second:   # same tenant, same server connection
        assert second.execute("SELECT count(*) FROM pg_listening_channels()").fetchone() == (1,)


def test_temp_table_shadows_the_real_table_through_session_state_allow(txn_proxies, shards):
    proxy = txn_proxies["allow"]
    with proxy.connect(tenant="acme") as first:
        first.execute("CREATE TEMP TABLE items (id int, body text)")
        first.execute("INSERT INTO items VALUES (1, 'TEMP')")
        with proxy.connect(tenant="acme") as second:   # same tenant, same server connection
            assert second.execute("SELECT body FROM items").fetchall() == [("TEMP",)]
            second.execute("DISCARD TEMP")
            assert [r[0] for r in second.execute("SELECT body FROM items ORDER BY id")] == \
                real_items(shards["s1"])


@pytest.mark.parametrize("tier", ["refuse", "refuse_no_guard"])
@pytest.mark.parametrize("protocol", ["simple", "named_parse", "unnamed_parse"])
@pytest.mark.parametrize("name,sql,hint", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_in_transaction_mode(name, sql, hint, protocol, tier, txn_proxies, shards):
    proxy = txn_proxies[tier]
    real = real_items(shards["s1"])
    # psycopg: no parameters = simple Query; prepare=True = a named Parse; binary results =
    # an unnamed Parse/Bind/Execute.
    kwargs = {"simple": {}, "named_parse": {"prepare": True},
              "unnamed_parse": {"binary": True, "prepare": False}}[protocol]
    with proxy.connect(tenant="acme") as first:
        with pytest.raises(psycopg.Error) as err:
            first.execute(sql, **kwargs)
        assert err.value.sqlstate == "0A000", (name, err.value)
        assert "after the transaction ends" in err.value.diag.message_primary
        assert hint in (err.value.diag.message_hint or ""), err.value.diag.message_hint
        # Inside a transaction block: refused there too, and the block is aborted.
        first.execute("BEGIN")
        with pytest.raises(psycopg.Error) as err:
            first.execute(sql, **kwargs)
        assert err.value.sqlstate == "0A000"
        first.execute("ROLLBACK")
        with proxy.connect(tenant="acme") as second:
            assert [r[0] for r in second.execute("SELECT body FROM items ORDER BY id")] == real
            locks = second.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                   " AND pid = pg_backend_pid()").fetchone()[0]
            assert locks == 0


@pytest.mark.parametrize("tier", ["refuse", "refuse_no_guard"])
def test_what_ends_with_the_transaction_still_works(tier, txn_proxies, shards):
    proxy = txn_proxies[tier]
    with proxy.connect(tenant="acme") as conn:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE scratch (i int) ON COMMIT DROP")
            conn.execute("INSERT INTO scratch SELECT generate_series(1, 3)")
            assert conn.execute("SELECT count(*) FROM scratch").fetchone()[0] == 3
            conn.execute("SELECT pg_advisory_xact_lock(4242)")
            conn.execute("DECLARE c CURSOR FOR SELECT 1")
            assert conn.execute("FETCH 1 FROM c").fetchone() == (1,)
        # Protocol-level named prepared statements (psycopg prepare=True) keep working across
        # transactions.
        for _ in range(3):
            assert conn.execute("SELECT count(*) FROM items", prepare=True).fetchone()[0] == \
                len(real_items(shards["s1"]))


# --- session mode: connections that used temporary tables are retired ----------------------


@pytest.fixture(scope="module")
def session_proxy(launcher):
    config = launcher.config()
    config["tiers"] = {"default": {"pool": "shared", "pool_size": 1, "pool_mode": "session",
                                   "pool_timeout": "5s"}}
    proxy = launcher.start(config)
    yield proxy
    launcher.stop(proxy)


def test_temp_buffers_fixed_after_discard_all_directly(shards):
    with shards["s1"].connect() as conn:
        conn.execute("CREATE TEMP TABLE t (i int)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("DISCARD ALL")   # what a session pooler runs between clients
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SET temp_buffers = '16MB'")
        assert "temporary tables have been accessed" in str(err.value)


@pytest.mark.parametrize("create", [
    "CREATE TEMP TABLE t (i int); INSERT INTO t VALUES (1)",
    "BEGIN; CREATE TEMP TABLE t (i int) ON COMMIT DROP; INSERT INTO t VALUES (1); COMMIT",
    "DO $$BEGIN CREATE TEMP TABLE t (i int); INSERT INTO t VALUES (1); END$$",
], ids=["temp", "on_commit_drop", "in_do_block"])
@pytest.mark.parametrize("next_tenant", ["acme", "initech"])  # both on s1
def test_session_mode_retires_connection_after_temp_tables(create, next_tenant, session_proxy):
    with session_proxy.connect(tenant="acme") as first:
        pid = first.execute("SELECT pg_backend_pid()").fetchone()[0]
        first.execute(create)
    with session_proxy.connect(tenant=next_tenant) as second:
        assert second.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
        second.execute("SET temp_buffers = '16MB'")   # a fresh server process
        assert second.execute("SHOW temp_buffers").fetchone() == ("16MB",)
        assert second.execute("SELECT pg_my_temp_schema()").fetchone() == (0,)


def test_session_mode_reuses_connection_without_temp_tables(session_proxy):
    with session_proxy.connect(tenant="acme") as first:
        pid = first.execute("SELECT pg_backend_pid()").fetchone()[0]
        first.execute("PREPARE p AS SELECT 1")
        first.execute("SELECT pg_advisory_lock(4242)")
    with session_proxy.connect(tenant="initech") as second:   # same shard, same pool
        assert second.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
        # DISCARD ALL took what the first client left.
        assert second.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
        assert second.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                              ).fetchone() == (0,)


def test_pg_temp_first_in_search_path_is_refused(start_proxy, launcher, shards):
    """With pg_temp first in search_path, a plain CREATE TABLE makes a temporary table that
    outlives the transaction (shown directly): shardgate refuses such a search_path, and
    accepts pg_temp after the tenant's schema, where it creates nothing."""
    with shards["s1"].connect() as conn:
        conn.execute("SET search_path = pg_temp, tenant_acme")
        conn.execute("CREATE TABLE sg_pg_temp_first (body text)")
        assert conn.execute("SELECT relpersistence FROM pg_class "
                            "WHERE oid = 'sg_pg_temp_first'::regclass").fetchone() == ("t",)
    proxy = start_proxy(txn_config(launcher, pool_size=1))
    with proxy.connect(tenant="acme") as a:
        for path in ("pg_temp, tenant_acme", "pg_catalog, pg_temp, tenant_acme"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
                a.execute(f"SET search_path = {path}")
            assert "pg_temp only after the tenant's schema" in (err.value.diag.message_hint or "")
            a.rollback()
        a.execute("SET search_path = tenant_acme, pg_temp")
        a.commit()
        assert a.execute("SHOW search_path").fetchone() == ("tenant_acme, pg_temp",)
