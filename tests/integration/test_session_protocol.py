"""What the client sees of the session: ParameterStatus, BackendKeyData, cancel."""
import os
import struct
import threading
import time

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD


def test_parameter_status_and_backend_key_data(proxy, shards):
    with pgwire.RawConnection(proxy.host, proxy.port) as conn:
        conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        types = [m.type for m in conn.messages]
        assert b"K" in types and types[-1] == b"Z", types
        assert types.index(b"K") < types.index(b"Z")
        for name in ("server_version", "client_encoding", "DateStyle", "integer_datetimes",
                     "standard_conforming_strings", "TimeZone"):
            assert name in conn.parameters, conn.parameters
        assert conn.parameters["server_version"].startswith("15")
        server_pid = int(conn.query("SELECT pg_backend_pid()")[0][0])
        # BackendKeyData is issued by shardgate, not the server's key passed through.
        assert conn.backend_key[0] != server_pid, (conn.backend_key, server_pid)
    with proxy.connect(tenant="acme") as conn:
        assert conn.info.parameter_status("server_version").startswith("15")
        assert conn.info.parameter_status("client_encoding") == "UTF8"
        assert conn.info.backend_pid != 0


def test_client_set_parameters_reach_the_server(proxy):
    with psycopg.connect(proxy.conninfo("acme", application_name="sg-it-app",
                                        client_encoding="LATIN1")) as conn:
        assert conn.info.parameter_status("application_name") == "sg-it-app"
        assert conn.info.parameter_status("client_encoding") == "LATIN1"
        assert conn.execute("SHOW application_name").fetchone() == ("sg-it-app",)


def test_cancel_pg_sleep_returns_57014_quickly(proxy):
    with proxy.connect(tenant="acme") as conn:
        timer = threading.Timer(0.5, conn.cancel)
        started = time.monotonic()
        timer.start()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled) as err:
                conn.execute("SELECT pg_sleep(10)")
        finally:
            timer.cancel()
        elapsed = time.monotonic() - started
        assert err.value.sqlstate == "57014"
        assert elapsed < 2.0, f"cancel took {elapsed:.2f}s"
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)


def test_cancel_reaches_only_its_own_session(proxy):
    """A forged key cancels nothing; a real cancel of acme leaves initech's query alone."""
    results = {}

    def run(tenant, sql):
        try:
            with proxy.connect(tenant=tenant) as conn:
                results[tenant] = conn.execute(sql).fetchone()
        except psycopg.Error as exc:
            results[tenant] = exc

    bystander = threading.Thread(target=run, args=("initech", "SELECT 'done' FROM pg_sleep(1.5)"))
    bystander.start()
    with proxy.connect(tenant="acme") as conn:
        def cancels():
            with pgwire.RawConnection(proxy.host, proxy.port) as raw:  # forged key
                raw.send(struct.pack("!IIII", 16, 80877102, 12345, int.from_bytes(os.urandom(4), "big")))
            time.sleep(0.2)
            conn.cancel()
        timer = threading.Timer(0.4, cancels)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")
        timer.join()
    bystander.join(timeout=10)
    assert results.get("initech") == ("done",), results


def test_notices_and_parameter_changes_reach_the_client(proxy):
    notices = []
    with proxy.connect(tenant="acme") as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        conn.execute("CREATE TABLE IF NOT EXISTS items (id serial, body text)")
        assert any("already exists" in n for n in notices), notices
        conn.execute("SET application_name = 'changed-mid-session'")
        assert conn.info.parameter_status("application_name") == "changed-mid-session"
        conn.execute("SET TimeZone = 'Asia/Tokyo'")
        assert conn.info.parameter_status("TimeZone") == "Asia/Tokyo"


def test_welcome_parameters_are_the_servers_for_every_client(proxy, shards):
    """The first client of a pool and every later one (whose welcome copies the parameters no
    client sets from what the pool encoded once) are told the server's values, each name once;
    a client's own startup value still wins for the parameters clients set."""
    shared = ("server_version", "server_encoding", "integer_datetimes", "in_hot_standby",
              "default_transaction_read_only")
    with psycopg.connect(shards["s1"].conninfo()) as direct:
        want = {name: direct.info.parameter_status(name) for name in shared}
    assert all(want.values()), want
    told = []
    for app in ("", "", "welcome-third"):
        with pgwire.RawConnection(proxy.host, proxy.port) as conn:
            extra = {"application_name": app} if app else {}
            conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme", **extra)
            names = [m.body.split(b"\0", 1)[0].decode() for m in conn.messages if m.type == b"S"]
            assert len(names) == len(set(names)), names
            assert {n: conn.parameters.get(n) for n in shared} == want, conn.parameters
            assert conn.parameters["application_name"] == app, conn.parameters
            assert conn.query("SHOW application_name")[0][0] == app
            told.append(dict(conn.parameters))
    assert told[0] == told[1], told
    assert {k: v for k, v in told[2].items() if k != "application_name"} == \
        {k: v for k, v in told[0].items() if k != "application_name"}, told
