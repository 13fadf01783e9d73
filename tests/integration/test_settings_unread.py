"""Settings changed by statements that are not a plain SET, in transaction mode: SET SESSION
CHARACTERISTICS, a SET inside a DO block, set_config() of a setting the server does not
report, RESET ALL inside ALTER FUNCTION (which changes the function, not the session), and a
prepared SET (it changes the setting each time it is executed, and only then).

Each test shows the state on a direct connection first (a session keeps what these statements
set, so whoever uses that connection next sees it), then what shardgate does: the client keeps
what PostgreSQL would keep, and the next client of the same server connection starts clean."""
from __future__ import annotations

import psycopg
import pytest

import txn_helpers
from txn_helpers import elsewhere, ext_connect, on_other_connection, pid, txn_config

WORK_MEM = "SELECT current_setting('work_mem')"
ISOLATION = "SELECT current_setting('default_transaction_isolation')"


def direct(shards):
    return psycopg.connect(shards["s1"].conninfo(), autocommit=True,
                           options="-c search_path=tenant_acme")


def test_session_characteristics_follow_the_client_and_not_the_connection(start_proxy,
                                                                          launcher, shards):
    setter = "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"
    with direct(shards) as d:
        d.execute(setter)
        want = d.execute(ISOLATION + ", current_setting('default_transaction_read_only')"
                         ).fetchone()
    assert want == ("serializable", "on")
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    with proxy.connect(tenant="acme") as p:
        p.execute("BEGIN")
        p.execute(setter)
        last = pid(p)
        p.execute("COMMIT")
        got = on_other_connection(
            proxy, p, ISOLATION + ", current_setting('default_transaction_read_only')", last)
    assert got == want
    # The two server connections both ran the client's settings; a new client sees neither.
    for _ in range(3):
        with proxy.connect(tenant="acme") as fresh:
            assert fresh.execute(ISOLATION).fetchone() == ("read committed",)


@pytest.mark.parametrize("setter", [
    "DO $$BEGIN SET work_mem = '16MB'; END$$",
    "SELECT set_config('work_mem', '16MB', false)",
])
def test_settings_shardgate_cannot_follow_stay_with_their_client(start_proxy, launcher, shards,
                                                                 setter):
    with direct(shards) as d:
        d.execute(setter)
        assert d.execute(WORK_MEM).fetchone() == ("16MB",)  # the session keeps it
    proxy = start_proxy(txn_config(launcher, pool_size=1))
    with proxy.connect(tenant="acme") as a:
        a.execute(setter)
        # One server connection: the client is served where its setting is.
        assert a.execute(WORK_MEM).fetchone() == ("16MB",)
    with proxy.connect(tenant="acme") as b:  # the same server connection, a new client
        assert b.execute(WORK_MEM).fetchone() == ("4MB",)


def test_reset_all_of_a_function_is_not_the_sessions(start_proxy, launcher, shards):
    create = ("CREATE OR REPLACE FUNCTION tenant_acme.sg_unread_f() RETURNS int "
              "LANGUAGE sql SET work_mem = '2MB' AS 'SELECT 1'")
    alter = "ALTER FUNCTION tenant_acme.sg_unread_f() RESET ALL"
    with direct(shards) as d:
        d.execute(create)
        d.execute("SET work_mem = '16MB'")
        d.execute(alter)
        assert d.execute(WORK_MEM).fetchone() == ("16MB",)
        d.execute("DROP FUNCTION tenant_acme.sg_unread_f()")
    config = txn_config(launcher, pool_size=2)
    config["tiers"]["default"]["guard"] = {"allow_dynamic_sql": True}  # ALTER FUNCTION
    proxy = start_proxy(config)
    with proxy.connect(tenant="acme") as p:
        p.execute(create)
        p.execute("BEGIN")
        p.execute("SET work_mem = '16MB'")
        p.execute(alter)
        last = pid(p)
        p.execute("COMMIT")
        assert on_other_connection(proxy, p, WORK_MEM, last) == ("16MB",)
        p.execute("DROP FUNCTION tenant_acme.sg_unread_f()")
    for _ in range(3):
        with proxy.connect(tenant="acme") as fresh:
            assert fresh.execute(WORK_MEM).fetchone() == ("4MB",)


def test_a_prepared_set_counts_each_time_it_runs(start_proxy, launcher, shards):
    """The second execute of a prepared text is Bind/Execute only (psycopg prepare=True, as
    asyncpg's statement cache and pgjdbc after prepareThreshold)."""
    def steps(conn):
        conn.execute("SET work_mem = '16MB'", prepare=True)
        conn.execute("RESET work_mem")
        conn.execute("BEGIN")
        conn.execute("SET work_mem = '16MB'", prepare=True)  # no Parse this time
        ran_on = pid(conn)
        conn.execute("COMMIT")
        return ran_on

    with direct(shards) as d:
        steps(d)
        assert d.execute(WORK_MEM).fetchone() == ("16MB",)
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    with proxy.connect(tenant="acme") as p:
        last = steps(p)
        assert on_other_connection(proxy, p, WORK_MEM, last) == ("16MB",)
    for _ in range(3):
        with proxy.connect(tenant="acme") as fresh:
            assert fresh.execute(WORK_MEM).fetchone() == ("4MB",)


def test_a_parsed_set_that_never_runs_changes_nothing(start_proxy, launcher, shards):
    def parse_only(conn):
        conn.parse("setter", "SET work_mem = '16MB'")
        conn.sync()
        assert not conn.read_until_ready().errors

    shard = shards["s1"]
    d = txn_helpers.ExtConnection(shard.host, shard.port)
    d.startup(shard.user, shard.password)
    parse_only(d)
    want = [tuple(r) for r in d.simple(WORK_MEM).rows]
    d.close()
    assert want == [("4MB",)]
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    p = ext_connect(proxy, "acme")
    try:
        parse_only(p)
        last = int(p.simple("SELECT pg_backend_pid()").rows[0][0])
        # The client's next statement on the other server connection, then on this one.
        row = elsewhere(proxy, last, lambda: p.simple(WORK_MEM + ", pg_backend_pid()").rows[0])
        assert [row] == want
        assert [tuple(r) for r in p.simple(WORK_MEM).rows] == want
    finally:
        p.close()
