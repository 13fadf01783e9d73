"""A client's settings follow it, by PostgreSQL's rules (proxy/session/session_settings.h, issue 14).

- Transaction mode: a client's SET is still in force when its next transaction runs on
  another server connection; the next client of that connection (same tenant) does not see
  it, nor the first client's startup options.
- Startup parameters in any case (libpq sends `datestyle`, `timezone`, `geqo` in lower case)
  are applied, and the ParameterStatus values the client gets are PostgreSQL's.
- Savepoints and COMMIT AND CHAIN: a SET made before a savepoint survives ROLLBACK TO it, one
  committed by COMMIT AND CHAIN survives a ROLLBACK of the chained transaction.
"""
from __future__ import annotations

import psycopg
import pytest

from txn_helpers import elsewhere, on_other_connection, pid, txn_config


def backend_and(conn: psycopg.Connection, setting: str) -> tuple[int, str]:
    return conn.execute(f"SELECT pg_backend_pid(), current_setting('{setting}')").fetchone()


def test_set_follows_the_client_to_another_connection(start_proxy, launcher):
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    with proxy.connect(options="-c shardgate.tenant=acme -c work_mem=8MB") as a, \
            proxy.connect(tenant="acme") as b:
        assert backend_and(b, "work_mem")[1] == "4MB"  # the server's default
        a.execute("SET work_mem = '16MB'")
        pid_a, value = backend_and(a, "work_mem")
        assert value == "16MB"
        # b takes a's server connection (a transaction held open), so a gets the other one.
        for _ in range(20):
            b.execute("BEGIN")
            pid_b, b_value = backend_and(b, "work_mem")
            if pid_b == pid_a:
                break
            b.execute("COMMIT")
        else:
            pytest.fail("b never got a's server connection")
        assert b_value == "4MB", "a's SET (or its startup option) leaked to another client"
        pid_other, a_value = backend_and(a, "work_mem")
        assert pid_other != pid_a
        assert a_value == "16MB", "a's SET was lost, or its startup option won over it"
        b.execute("COMMIT")
        a.execute("RESET work_mem")
        assert backend_and(a, "work_mem")[1] == "8MB", "RESET must go back to the startup value"


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_lower_case_startup_parameters_and_parameter_status(start_proxy, launcher, shards, mode,
                                                           monkeypatch):
    config = launcher.config()
    config["tiers"] = {"default": {"pool": "shared", "pool_size": 4, "pool_mode": mode}}
    proxy = start_proxy(config)
    # libpq sends these as the startup parameters datestyle, timezone and geqo.
    monkeypatch.setenv("PGDATESTYLE", "Postgres, MDY")
    monkeypatch.setenv("PGTZ", "America/Los_Angeles")
    monkeypatch.setenv("PGGEQO", "off")
    params = {"application_name": "from_startup"}
    shard = shards["s1"]
    direct = psycopg.connect(shard.conninfo(), autocommit=True,
                             options="-c search_path=tenant_acme", **params)
    proxied = proxy.connect(tenant="acme", **params)
    with direct, proxied:
        reported = ("DateStyle", "TimeZone", "application_name")

        def state(conn):
            shown = conn.execute("SELECT current_setting('DateStyle'), "
                                 "current_setting('TimeZone'), current_setting('geqo'), "
                                 "'2006-08-13 12:34:56'::timestamptz::text").fetchone()
            return shown, {n: conn.info.parameter_status(n) for n in reported}

        assert state(proxied) == state(direct)
        for sql in ("SET datestyle = 'ISO, DMY'", "SET TIME ZONE 'Europe/Berlin'",
                    "SET application_name = 'changed'", "RESET datestyle", "RESET timezone",
                    "RESET application_name", "SET geqo = on", "RESET ALL"):
            direct.execute(sql)
            proxied.execute(sql)
            assert state(proxied) == state(direct), sql


def reset_steps(conn: psycopg.Connection) -> list:
    """RESET, SET ... TO DEFAULT and RESET ALL of startup settings inside a transaction block,
    by simple query and by extended protocol: values, command tags and ParameterStatus."""
    out = []
    cur = conn.cursor()

    def run(sql, **kwargs):
        cur.execute(sql, **kwargs)
        out.append((sql, cur.statusmessage))

    def show(what):
        out.append((what, conn.execute(f"SELECT current_setting('{what}')").fetchone()[0]))

    conn.execute("SET work_mem = '64MB'")
    conn.execute("SET application_name = 'changed'")
    run("BEGIN")
    run("RESET work_mem")
    show("work_mem")
    run("RESET application_name")
    show("application_name")
    out.append(("reported", conn.info.parameter_status("application_name")))
    run("SET work_mem = '65MB'")
    run("SET work_mem TO DEFAULT", prepare=True)  # a named Parse
    show("work_mem")
    run("SET LOCAL work_mem = '1MB'")
    run("SET LOCAL work_mem TO DEFAULT", binary=True)  # an unnamed Parse
    show("work_mem")
    run("SET work_mem = '66MB'")
    run("RESET work_mem", prepare=True)  # a named Parse: the Execute completes as RESET
    show("work_mem")
    run("SET work_mem = '67MB'")
    run("RESET work_mem", binary=True)
    show("work_mem")
    run("SET application_name = 'again'")
    run("RESET ALL")
    show("work_mem")
    show("application_name")
    show("search_path")
    run("COMMIT")
    out.append(("reported", conn.info.parameter_status("application_name")))
    run("BEGIN")
    run("RESET ALL")
    run("ROLLBACK")
    show("application_name")
    return out


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_reset_goes_to_the_startup_value_in_the_same_transaction(start_proxy, launcher, shards,
                                                                 mode):
    """PostgreSQL's RESET goes to the value the session started with at once; shardgate's
    server connections started with the shard's defaults (before: `SHOW work_mem` after
    `RESET work_mem` gave 4MB until the next transaction)."""
    config = launcher.config()
    config["tiers"] = {"default": {"pool": "shared", "pool_size": 2, "pool_mode": mode}}
    proxy = start_proxy(config)
    shard = shards["s1"]
    with psycopg.connect(shard.conninfo(), autocommit=True, application_name="from_startup",
                         options="-c search_path=tenant_acme -c work_mem=8MB") as direct:
        want = reset_steps(direct)
    assert ("work_mem", "8MB") in want and ("RESET work_mem", "RESET") in want
    with proxy.connect(options="-c shardgate.tenant=acme -c work_mem=8MB",
                       application_name="from_startup") as conn:
        got = reset_steps(conn)
    assert got == want


SAVEPOINT_STEPS = ["BEGIN", "SET work_mem = '16MB'", "SAVEPOINT s", "SET statement_timeout = '7s'",
                   "ROLLBACK TO SAVEPOINT s", "COMMIT"]
CHAIN_STEPS = ["BEGIN", "SET work_mem = '16MB'", "COMMIT AND CHAIN", "SET work_mem = '32MB'",
               "ROLLBACK"]


def savepoint_recovered(conn) -> None:
    """Django's and SQLAlchemy's nested atomic block: an error inside a savepoint, rolled back
    to it, then the outer transaction commits."""
    conn.execute("BEGIN")
    conn.execute("SET application_name = 'kept'")
    conn.execute("SAVEPOINT outer_sp")
    conn.execute("SET work_mem = '32MB'")
    conn.execute("SAVEPOINT s")
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1/0")
    conn.execute("ROLLBACK TO SAVEPOINT s")
    conn.execute("RELEASE SAVEPOINT outer_sp")
    conn.execute("COMMIT")


@pytest.mark.parametrize("steps", ["savepoint", "chain", "recovered"])
def test_settings_follow_savepoints_and_chained_commits(start_proxy, launcher, shards, steps):
    def run(conn):
        if steps == "recovered":
            savepoint_recovered(conn)
        else:
            for sql in SAVEPOINT_STEPS if steps == "savepoint" else CHAIN_STEPS:
                conn.execute(sql)

    shown = ("SELECT current_setting('work_mem'), current_setting('statement_timeout'), "
             "current_setting('application_name')")
    with psycopg.connect(shards["s1"].conninfo(), autocommit=True) as d:
        run(d)
        want = d.execute(shown).fetchone()
        reported = d.info.parameter_status("application_name")
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    with proxy.connect(tenant="acme") as p:
        run(p)
        assert p.info.parameter_status("application_name") == reported
        last = pid(p)
        assert p.execute(shown).fetchone() == want
        assert on_other_connection(proxy, p, shown, last) == want


def test_settings_follow_savepoints_sent_with_the_extended_protocol(start_proxy, launcher, shards):
    """As pgjdbc sends them: each statement an unnamed Parse/Bind/Execute/Sync."""
    from txn_helpers import ExtConnection, ext_connect

    def run(conn) -> list:
        for sql in SAVEPOINT_STEPS:
            result = conn.prepare_and_run("", sql)
            assert not result.errors, (sql, result.errors)
        return [tuple(r) for r in conn.simple("SELECT current_setting('work_mem'), "
                                              "current_setting('statement_timeout')").rows]

    shard = shards["s1"]
    d = ExtConnection(shard.host, shard.port)
    d.startup(shard.user, shard.password)
    want = run(d)
    d.close()
    assert want == [("16MB", "0")]
    proxy = start_proxy(txn_config(launcher, pool_size=2))
    p = ext_connect(proxy, "acme")
    try:
        assert run(p) == want
        last = int(p.simple("SELECT pg_backend_pid()").rows[0][0])
        row = elsewhere(proxy, last,
                        lambda: p.simple("SELECT current_setting('work_mem'), "
                                         "pg_backend_pid()").rows[0])
        assert row == ("16MB",)
    finally:
        p.close()
