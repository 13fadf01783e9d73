"""Protocol-level prepared statements in transaction mode (issue 3, SPEC.md "Pools and tiers").

A client's named statement lives, for the client, as long as PostgreSQL would keep it; the
server connection the client gets for a transaction may be one that never saw it, so shardgate
must prepare it there on demand. Clients use the same names for different SQL (psycopg's
`_pg3_0`, asyncpg's `__asyncpg_stmt_1__`, node-postgres names): results must never mix.

Config: tier `default`, pool: shared, pool_mode: transaction; pool_size stated per test
(2 where statements must move between server connections).

- pgbench -M prepared -S, 50 clients, -j 2, -T 5, pool_size 8 → zero failed transactions.
  (Not TPC-B: with -M prepared and fewer server connections than clients, pgbench's
  synchronous PQprepare deadlocks inside pgbench itself.)
- psycopg prepare_threshold=0 (and a tiny prepared_max, so psycopg DEALLOCATEs by name),
  asyncpg (its statement cache), node-postgres named queries: correct results, no
  "prepared statement ... does not exist / already exists".
- Close + re-Parse of a name with other SQL gives the new statement.
- DISCARD ALL / DEALLOCATE ALL / DEALLOCATE name: PostgreSQL forgets the session's
  prepared statements, protocol-level ones included, so afterwards Bind of an old name is
  26000 and Parse of the same name succeeds (what Rails does after DEALLOCATE ALL). These
  tests expect exactly PostgreSQL's behaviour.
"""
import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from admin_helpers import admin_rows

from node_deps import NODE_DIR, npm_install

from proxyctl import APP_PASSWORD, TENANT_SHARDS, directory_for, run_tool

from txn_helpers import ext_connect, run_threads, txn_config

BENCH_TENANT = "txbench"          # on s1, initialised directly on the shard


def directory():
    return directory_for({**TENANT_SHARDS, BENCH_TENANT: "s1"})


@pytest.fixture
def proxy2(start_proxy, launcher, shards):
    """Transaction mode, pool_size 2: statements must be re-prepared on other connections."""
    return start_proxy(txn_config(launcher, pool_size=2, pool_timeout="10s"), directory())


# --- pgbench -M prepared -------------------------------------------------------------------
@pytest.fixture(scope="module")
def bench_tenant(shards):
    """pgbench -i -s 1 into tenant_txbench on s1, straight on the shard (not through the
    proxy: this module tests prepared statements, not pgbench -i)."""
    import pgshards
    s1 = shards["s1"]
    pgshards.provision_tenant(s1, BENCH_TENANT)
    env = dict(os.environ, PGHOST=s1.host, PGPORT=str(s1.port), PGUSER=s1.user,
               PGPASSWORD=s1.password, PGDATABASE=s1.dbname,
               PGOPTIONS=f"-c search_path=tenant_{BENCH_TENANT}")
    out = run_tool(["pgbench", "-i", "-s", "1", "-q"], env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return BENCH_TENANT


@pytest.mark.parametrize("depth", [1, 4])
def test_pgbench_prepared_select_only_50_clients_pool_8(bench_tenant, start_proxy, launcher, depth):
    """Also with pipeline_depth 4 (test_txn_pipelining.py): statements prepared on demand on
    connections that requests queue on; SHOW POOLS must show queued requests."""
    proxy = start_proxy(txn_config(launcher, pool_size=8, pool_timeout="10s",
                                   pipeline_depth=depth), directory())
    env = proxy.libpq_env(tenant=bench_tenant)
    out = run_tool(["pgbench", "-S", "-M", "prepared", "-c", "50", "-j", "2", "-T", "5", "-n"],
                   env, timeout=60)
    output = out.stdout + out.stderr
    assert out.returncode == 0, output
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert processed, output
    assert failed is None or int(failed.group(1)) == 0, output
    assert int(processed.group(1)) >= 1000, output      # 5 s; thousands expected, 1000 is the floor
    assert "aborted" not in output and "does not exist" not in output, output
    pipelined = sum(int(row["pipelined"]) for row in admin_rows(proxy, "SHOW POOLS"))
    if depth == 1:
        assert pipelined == 0
    else:
        assert pipelined > 0, "50 clients on 8 connections, yet no request queued on a busy one"


# --- psycopg ---------------------------------------------------------------------------------
def _psycopg_worker(proxy, index, tenant, rounds, prepared_max, failures):
    """Each worker runs its statements in a rotated order, so psycopg's names (_pg3_0, ...)
    stand for different SQL on different client connections."""
    statements = [
        ("SELECT body FROM items WHERE id = %s", lambda i: ((i % 3) + 1,),
         lambda i: [(f"{tenant} secret {(i % 3) + 1}",)]),
        ("SELECT %s::int * 7", lambda i: (i,), lambda i: [(i * 7,)]),
        ("SELECT current_setting('shardgate.tenant'), current_schema(), %s::text",
         lambda i: (f"w{index}",), lambda i: [(tenant, f"tenant_{tenant}", f"w{index}")]),
        ("SELECT count(*) FROM items WHERE body LIKE %s", lambda i: (f"{tenant} %",), lambda i: [(3,)]),
        ("SELECT %s::text || '-' || %s::text", lambda i: ("a", i), lambda i: [(f"a-{i}",)]),
        ("SELECT array_length(%s::int[], 1)", lambda i: ([1] * ((i % 4) + 1),), lambda i: [((i % 4) + 1,)]),
    ]
    k = index % len(statements)
    statements = statements[k:] + statements[:k]
    try:
        with psycopg.connect(proxy.conninfo(tenant), autocommit=True, prepare_threshold=0) as conn:
            if prepared_max is not None:
                conn.prepared_max = prepared_max
            for i in range(rounds):
                try:
                    if i % 3 == 2:
                        with conn.transaction():
                            for sql, params, want in statements:
                                got = conn.execute(sql, params(i)).fetchall()
                                if got != want(i):
                                    failures.append((index, tenant, sql, got, want(i)))
                    else:
                        for sql, params, want in statements:
                            got = conn.execute(sql, params(i), prepare=True).fetchall()
                            if got != want(i):
                                failures.append((index, tenant, sql, got, want(i)))
                except psycopg.Error as exc:
                    failures.append((index, tenant, i, f"{exc.sqlstate}: {exc}"))
                    if len(failures) > 20:
                        return
    except psycopg.Error as exc:
        failures.append((index, tenant, "connect", str(exc)))


@pytest.mark.parametrize("prepared_max", [None, 3], ids=["cache", "psycopg_deallocates"])
def test_psycopg_prepared_statements_across_server_connections(proxy2, prepared_max):
    """8 psycopg connections (acme and initech, both on s1's pool of 2), prepare_threshold=0,
    30 rounds x 6 statements each. With prepared_max=3 psycopg evicts its statements with
    `DEALLOCATE _pg3_<n>` (SQL) and prepares new names, so DEALLOCATE of a protocol-level
    name must work too."""
    failures: list = []
    run_threads(_psycopg_worker,
                [(proxy2, i, ("acme", "initech")[i % 2], 30, prepared_max, failures)
                 for i in range(8)])
    assert not failures, failures[:10]


HELPERS = Path(__file__).resolve().parent / "txn_helpers.py"


def test_psycopg_defaults_deep_queue_two_tenants(start_proxy, launcher):
    """psycopg's default prepare_threshold=5 (a statement is prepared on its 6th execution):
    200 acme connections loop `SELECT pg_sleep(0.005)` for 3 s on a pool of 4 (a deep wait
    queue), while 2 initech connections on the same pool (s1) loop `SELECT count(*) FROM
    items`, so server connections switch tenants under the prepared statements. Every
    execution must succeed."""
    proxy = start_proxy(txn_config(launcher, pool_size=4, pool_timeout="10s"), directory())
    floods = [subprocess.Popen([sys.executable, str(HELPERS), "flood", proxy.conninfo(tenant),
                                str(clients), "3", sql, "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for tenant, clients, sql in (("acme", 200, "SELECT pg_sleep(0.005)"),
                                           ("initech", 2, "SELECT count(*) FROM items"))]
    results = []
    for flood in floods:
        out, err = flood.communicate(timeout=90)
        assert flood.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(not r["errors"] for r in results), f"acme, initech: {results}"
    assert all(r["transactions"] >= 100 for r in results), results


# --- asyncpg ---------------------------------------------------------------------------------
def test_asyncpg_statement_cache_through_transaction_mode(proxy2):
    """asyncpg prepares every query with arguments as a named statement
    (__asyncpg_stmt_<n>__) and caches it; 6 connections on a pool of 2, also an explicit
    conn.prepare() and transactions."""
    asyncpg = pytest.importorskip("asyncpg", reason="python3-asyncpg (scripts/install-deps.sh)")

    async def worker(index, tenant, failures):
        conn = await asyncpg.connect(host=proxy2.host, port=proxy2.port, user=f"app.{tenant}",
                                     password=APP_PASSWORD, database="app", timeout=10)
        try:
            by_id = await conn.prepare("SELECT body FROM items WHERE id = $1")
            for i in range(25):
                try:
                    want_id = (i % 3) + 1
                    got = await by_id.fetchval(want_id)
                    if got != f"{tenant} secret {want_id}":
                        failures.append((index, "by_id", got))
                    got = await conn.fetchval(f"SELECT $1::int * {index + 2}", i)
                    if got != i * (index + 2):
                        failures.append((index, "mult", got, i * (index + 2)))
                    async with conn.transaction():
                        row = await conn.fetchrow(
                            "SELECT current_setting('shardgate.tenant') AS t, current_schema() AS s, $1::text AS e",
                            f"x{i}")
                        if (row["t"], row["s"], row["e"]) != (tenant, f"tenant_{tenant}", f"x{i}"):
                            failures.append((index, "ctx", dict(row)))
                        n = await conn.fetchval("SELECT count(*) FROM items WHERE id <= $1", 3)
                        if n != 3:
                            failures.append((index, "count", n))
                except asyncpg.PostgresError as exc:
                    failures.append((index, i, f"{exc.sqlstate}: {exc}"))
                    if len(failures) > 20:
                        return
        finally:
            await conn.close()

    async def main():
        failures: list = []
        await asyncio.wait_for(asyncio.gather(*(worker(i, ("acme", "initech")[i % 2], failures)
                                                for i in range(6))), timeout=90)
        return failures

    failures = asyncio.run(main())
    assert not failures, failures[:10]


# --- node-postgres -----------------------------------------------------------------------------
def test_node_postgres_named_queries_through_transaction_mode(proxy2):
    """8 node-postgres clients (acme/initech on s1, globex/benchco on s2) x 40 rounds of
    named queries {name, text, values}; every client prepares 'q_mult' with its own SQL."""
    npm_install("pg")
    env = proxy2.libpq_env()
    out = subprocess.run(["node", "named_queries.js", "8", "40", "acme,initech,globex,benchco"],
                         cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failures"] == [], result["failures"][:10]
    assert result["ok"] == 8 * 40 * 3, result


# --- Close / re-Parse, duplicates, DISCARD ALL / DEALLOCATE ----------------------------------
def test_close_and_reparse_same_name_with_other_sql(proxy2):
    """Two raw clients on a pool of 2 both use the name 'stmt' for different SQL; client A
    Closes and re-Parses it with new SQL every round. A third client holds one of the two
    server connections in an open transaction every other round, so A's statement must run
    on both server connections (checked by pg_backend_pid). Each client must always get its
    own current statement's result."""
    a_pids = set()
    with ext_connect(proxy2, "acme") as a, ext_connect(proxy2, "initech") as b, \
            proxy2.connect(tenant="acme") as blocker:
        r = b.prepare_and_run("stmt", "SELECT 'b-' || current_setting('shardgate.tenant')")
        assert (r.errors, r.rows) == ([], [("b-initech",)]), r
        for i in range(20):
            if i % 2 == 0:
                blocker.execute("BEGIN")
                blocker.execute("SELECT 1")
            r = a.prepare_and_run("stmt", f"SELECT 'a-v{i}', $1::int, pg_backend_pid()", (i,))
            assert (r.errors, [row[:2] for row in r.rows]) == ([], [(f"a-v{i}", str(i))]), (i, r)
            a_pids.add(r.rows[0][2])
            r = b.run_named("stmt")
            assert (r.errors, r.rows) == ([], [("b-initech",)]), (i, r)
            if i % 2 == 0:
                blocker.execute("COMMIT")
            r = a.run_named("stmt", (i + 1,))                 # again, maybe on the other connection
            assert (r.errors, [row[:2] for row in r.rows]) == ([], [(f"a-v{i}", str(i + 1))]), (i, r)
            a_pids.add(r.rows[0][2])
            a.close_statement("stmt")
            a.sync()
            r = a.read_until_ready()
            assert r.errors == [] and r.types[-2:] == [b"3", b"Z"], (i, r)   # CloseComplete
            r = a.run_named("stmt", (1,))                     # closed: PostgreSQL says 26000
            assert r.sqlstates == ["26000"], (i, r)
    assert len(a_pids) == 2, f"A's statement ran on server backends {a_pids}; expected both"


def test_duplicate_parse_and_unknown_name_are_postgresql_errors(proxy2):
    with ext_connect(proxy2, "acme") as conn:
        r = conn.prepare_and_run("dup", "SELECT 1")
        assert (r.errors, r.rows) == ([], [("1",)])
        conn.parse("dup", "SELECT 2")
        conn.sync()
        r = conn.read_until_ready()
        assert r.sqlstates == ["42P05"], r                    # already exists
        r = conn.run_named("dup")
        assert (r.errors, r.rows) == ([], [("1",)]), r        # the original is untouched
        r = conn.run_named("never_prepared")
        assert r.sqlstates == ["26000"], r
        assert conn.simple("SELECT current_schema()").rows == [("tenant_acme",)]


@pytest.mark.parametrize("forget", ["DISCARD ALL", "DEALLOCATE ALL", "DEALLOCATE a1",
                                    "DEALLOCATE PREPARE a1"])
def test_discard_and_deallocate_forget_protocol_statements(proxy2, forget):
    """PostgreSQL: DISCARD ALL / DEALLOCATE ALL drop every prepared statement of the session,
    protocol-level ones included, and DEALLOCATE <name> drops that one. So afterwards Bind 'a1'
    is 26000, and Parse 'a1' with other SQL succeeds (Rails resets its a1, a2, ... counter
    after DEALLOCATE ALL and prepares the same names again). DISCARD ALL must also leave the
    tenant context in place (SPEC: the context is put back straight after)."""
    with ext_connect(proxy2, "acme") as conn, ext_connect(proxy2, "initech") as other:
        r = conn.prepare_and_run("a1", "SELECT 'first'")
        assert (r.errors, r.rows) == ([], [("first",)]), r
        r = other.prepare_and_run("a1", "SELECT 'other'")       # same name, another client
        assert (r.errors, r.rows) == ([], [("other",)]), r
        r = conn.simple(forget)
        assert r.errors == [] and r.status == "I", r
        r = conn.run_named("a1")
        assert r.sqlstates == ["26000"], f"after {forget}, Bind of a1 should be 26000: {r}"
        r = conn.prepare_and_run("a1", "SELECT 'second'")
        assert (r.errors, r.rows) == ([], [("second",)]), f"re-Parse of a1 after {forget}: {r}"
        assert conn.simple("SELECT current_setting('shardgate.tenant'), current_schema()").rows == \
            [("acme", "tenant_acme")]
        r = other.run_named("a1")                                 # the other client's a1 lives on
        assert (r.errors, r.rows) == ([], [("other",)]), r


def test_discard_all_keeps_the_connection_working(proxy2):
    """Weaker than the test above and independent of how statements are forgotten: after
    DISCARD ALL and DEALLOCATE ALL the client runs new statements with its tenant context."""
    with ext_connect(proxy2, "acme") as conn:
        for forget in ("DISCARD ALL", "DEALLOCATE ALL"):
            assert conn.simple(forget).errors == []
            r = conn.prepare_and_run("", "SELECT current_schema(), count(*) FROM items")
            assert (r.errors, r.rows) == ([], [("tenant_acme", "3")]), (forget, r)
            r = conn.prepare_and_run(f"fresh_{forget[:4]}", "SELECT $1::int + 1", (41,))
            assert (r.errors, r.rows) == ([], [("42",)]), (forget, r)
