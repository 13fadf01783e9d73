"""Transaction pooling: what a client sees when it shares few server connections (issue 3).

Config: one tier `default`, pool: shared, pool_mode: transaction; pool_size and pool_timeout
are set per test (stated in each). acme and initech live on s1, globex and benchco on s2.

- Exhaustion: waiting longer than pool_timeout → ERROR 53300 naming tenant and shard, after
  about pool_timeout, and the client connection stays usable.
- A client that disconnects inside a transaction (Terminate, or the socket just closing) gets
  the transaction rolled back before the server connection is reused: its uncommitted row
  is gone and no server backend stays 'idle in transaction'.
- client_encoding, TimeZone, DateStyle, IntervalStyle and application_name stay each client's
  own (startup parameter or SET) while two clients share one server connection.
- Cancel reaches the server connection serving the client at that moment (57014, connection
  usable after); an idle client's cancel cancels nothing of anyone else's.
- A shard restart under load: clients get errors (ERROR, not a dropped connection, in
  transaction mode), the pool refills, transactions succeed again, the proxy lives.
"""
import socket
import threading
import time
import uuid

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD

from txn_helpers import ext_connect, shardgate_backends, txn_config


def pid_of(conn):
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


# --- pool exhaustion ------------------------------------------------------------------------
POOL_TIMEOUT_S = 1.0


def test_pool_exhaustion_is_53300_after_pool_timeout_and_connection_stays_usable(start_proxy, launcher, shards):
    """pool_size 1, pool_timeout 1s: acme holds the only s1 connection in an open transaction;
    initech (same pool: shared per shard and tier) waits and must get 53300 after ~1 s
    (bounds: 0.8 s ≤ wait ≤ 3 s), then work once acme commits."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="1s"))
    with proxy.connect(tenant="acme") as holder, proxy.connect(tenant="initech") as waiter:
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM items")
        started = time.monotonic()
        with pytest.raises(psycopg.Error) as err:
            waiter.execute("SELECT count(*) FROM items")
        waited = time.monotonic() - started
        assert err.value.sqlstate == "53300", err.value
        assert 0.8 * POOL_TIMEOUT_S <= waited <= 3.0, f"53300 after {waited:.2f}s"
        text = str(err.value)
        assert "initech" in text and "s1" in text, text
        # The holder's transaction was not disturbed, and the waiter is usable afterwards.
        assert holder.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)
        holder.execute("COMMIT")
        assert waiter.execute("SELECT current_schema(), count(*) FROM items").fetchone() == ("tenant_initech", 3)
        # And a second timeout is just as recoverable (the waiter's state is clean).
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        with pytest.raises(psycopg.Error) as err2:
            waiter.execute("SELECT 1")
        assert err2.value.sqlstate == "53300"
        holder.execute("ROLLBACK")
        assert waiter.execute("SELECT body FROM items ORDER BY id LIMIT 1").fetchone() == ("initech secret 1",)


def test_pool_exhaustion_inside_extended_protocol_batch(start_proxy, launcher, shards):
    """The same with a Parse/Bind/Execute/Sync batch (raw client): 53300 ErrorResponse, then
    ReadyForQuery 'I', and the next batch works."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="1s"))
    with proxy.connect(tenant="acme") as holder, ext_connect(proxy, "initech") as waiter:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        result = waiter.prepare_and_run("", "SELECT count(*) FROM items")
        assert result.sqlstates == ["53300"] and result.status == "I", result
        holder.execute("COMMIT")
        result = waiter.prepare_and_run("", "SELECT count(*) FROM items")
        assert (result.errors, result.rows, result.status) == ([], [("3",)], "I"), result


# --- disconnect inside a transaction -------------------------------------------------------
def _uncommitted_gone(shard, marker, deadline_s=5.0):
    """Polls the shard until the marker row is invisible and no shardgate backend is idle in
    transaction; returns (row_count, idle_in_transaction)."""
    deadline = time.monotonic() + deadline_s
    while True:
        rows = shard.scalar("SELECT count(*) FROM tenant_acme.items WHERE body = %s", (marker,))
        stuck = shardgate_backends(shard, "state LIKE 'idle in transaction%%'")
        if (rows, stuck) == (0, 0) or time.monotonic() > deadline:
            return rows, stuck
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["terminate", "socket_close"])
def test_disconnect_inside_transaction_rolls_back(start_proxy, launcher, shards, how):
    """pool_size 1: the client inserts a row in an open transaction and goes away (Terminate,
    or the TCP connection closing without one). The row must never be committed, the shard
    must show no shardgate backend 'idle in transaction', and the next client (same single
    server connection) must run in a clean, non-aborted transaction state."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="5s"))
    s1 = shards["s1"]
    marker = f"uncommitted {how} {uuid.uuid4()}"
    raw = ext_connect(proxy, "acme")
    assert raw.simple("BEGIN").status == "T"
    result = raw.simple(f"INSERT INTO items (body) VALUES ('{marker}')")
    assert result.status == "T" and not result.errors, result
    # It is there on the shard, uncommitted, in a backend idle in transaction.
    assert shardgate_backends(s1, "state LIKE 'idle in transaction%%'") == 1
    if how == "terminate":
        raw.terminate()
    else:
        raw.sock.shutdown(socket.SHUT_RDWR)
    raw.close()
    rows, stuck = _uncommitted_gone(s1, marker)
    assert rows == 0, "the disconnected client's uncommitted insert was committed"
    assert stuck == 0, "a shardgate backend stayed 'idle in transaction' after the client left"
    with proxy.connect(tenant="acme") as nxt:
        assert nxt.execute("SELECT count(*) FROM items WHERE body = %s", (marker,)).fetchone() == (0,)
        nxt.execute("BEGIN")
        # A fresh transaction: it has written nothing yet, so it has no transaction ID (the
        # abandoned one, had it survived, would have one from its INSERT).
        assert nxt.execute("SELECT pg_current_xact_id_if_assigned() IS NULL").fetchone() == (True,)
        nxt.execute("COMMIT")
    assert s1.scalar("SELECT count(*) FROM tenant_acme.items WHERE body = %s", (marker,)) == 0


# --- per-client parameters on a shared server connection ------------------------------------
CLIENT_A = {"client_encoding": "LATIN1", "TimeZone": "Asia/Tokyo", "DateStyle": "SQL, DMY",
            "IntervalStyle": "sql_standard", "application_name": "txn-client-a"}
CLIENT_B = {"client_encoding": "UTF8", "TimeZone": "America/New_York", "DateStyle": "German, DMY",
            "IntervalStyle": "postgres_verbose", "application_name": "txn-client-b"}
SHOW = ("SELECT current_setting('client_encoding'), current_setting('TimeZone'), "
        "current_setting('DateStyle'), current_setting('IntervalStyle'), "
        "current_setting('application_name'), '2021-03-04'::date::text, "
        "extract(timezone_hour from '2021-01-01 12:00'::timestamptz)::int, pg_backend_pid()")


def _expected(params, tz_hours, date_text):
    return (params["client_encoding"], params["TimeZone"], params["DateStyle"],
            params["IntervalStyle"], params["application_name"], date_text, tz_hours)


def test_client_parameters_stay_per_client_on_one_server_connection(start_proxy, launcher, shards):
    """pool_size 1, so A and B alternate on the same server backend (checked by pid). A sets
    its values at startup (options / application_name / client_encoding), B with SET after
    connecting; each must see its own values in every transaction, in SHOW and in how values
    are rendered, and libpq's ParameterStatus view must stay its own."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="5s"))
    options_a = (f"-c shardgate.tenant=acme -c TimeZone={CLIENT_A['TimeZone']} "
                 f"-c DateStyle=SQL,DMY -c IntervalStyle={CLIENT_A['IntervalStyle']}")
    conn_a = psycopg.connect(proxy.conninfo(options=options_a, client_encoding="LATIN1",
                                            application_name=CLIENT_A["application_name"]),
                             autocommit=True)
    conn_b = proxy.connect(tenant="initech")
    with conn_a, conn_b:
        for name, value in CLIENT_B.items():
            conn_b.execute(f"SET {name} = '{value}'")
        want_a = _expected(CLIENT_A, 9, "04/03/2021")
        want_b = _expected(CLIENT_B, -5, "04.03.2021")
        pids = set()
        for i in range(6):
            for conn, want in ((conn_a, want_a), (conn_b, want_b)):
                if i % 2:   # every other round inside an explicit transaction
                    conn.execute("BEGIN")
                got = conn.execute(SHOW).fetchone()
                if i % 2:
                    conn.execute("COMMIT")
                assert got[:-1] == want, (conn.info.parameter_status("application_name"), got, want)
                pids.add(got[-1])
        assert len(pids) == 1, f"expected one shared server backend, saw pids {pids}"
        for conn, params in ((conn_a, CLIENT_A), (conn_b, CLIENT_B)):
            for name in ("client_encoding", "TimeZone", "DateStyle", "IntervalStyle", "application_name"):
                assert conn.info.parameter_status(name) == params[name], (name, params)
        # Text through LATIN1 for A arrives intact (the server really encodes for A).
        assert conn_a.execute("SELECT 'caf\u00e9'").fetchone() == ("caf\u00e9",)
        assert conn_a.execute("SELECT octet_length(convert_to('\u00e9', current_setting('client_encoding')))").fetchone() == (1,)


# --- cancel ------------------------------------------------------------------------------------
def test_cancel_in_transaction_mode_is_57014_and_connection_works_after(start_proxy, launcher, shards):
    proxy = start_proxy(txn_config(launcher, pool_size=2, pool_timeout="5s"))
    with proxy.connect(tenant="acme") as conn:
        for in_block in (False, True):
            if in_block:
                conn.execute("BEGIN")
            timer = threading.Timer(0.5, conn.cancel)
            started = time.monotonic()
            timer.start()
            try:
                with pytest.raises(psycopg.Error) as err:
                    conn.execute("SELECT pg_sleep(10)")
            finally:
                timer.cancel()
            elapsed = time.monotonic() - started
            assert err.value.sqlstate == "57014", err.value
            assert elapsed < 3.0, f"cancel took {elapsed:.2f}s"
            if in_block:
                conn.execute("ROLLBACK")
            assert conn.execute("SELECT current_schema(), count(*) FROM items").fetchone() == ("tenant_acme", 3)


def test_cancel_from_idle_client_cancels_nothing(start_proxy, launcher, shards):
    """pool_size 1: B runs pg_sleep(1.5) on the only server connection, which served A a moment
    before. A (idle, no server connection) sends a cancel: it must not reach B's query."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="5s"))
    with proxy.connect(tenant="acme") as conn_a, proxy.connect(tenant="initech") as conn_b:
        pid_a = pid_of(conn_a)
        result = {}

        def run_b():
            try:
                result["b"] = conn_b.execute("SELECT 'done', pg_backend_pid() FROM pg_sleep(1.5)").fetchone()
            except psycopg.Error as exc:
                result["b"] = exc

        thread = threading.Thread(target=run_b)
        thread.start()
        time.sleep(0.4)
        conn_a.cancel()
        thread.join(timeout=10)
        assert isinstance(result.get("b"), tuple), f"B's query was hit by A's cancel: {result}"
        assert result["b"] == ("done", pid_a)          # same server backend A had used
        assert conn_a.execute("SELECT 1").fetchone() == (1,)


# --- a shard restart under load ------------------------------------------------------------------
LOAD_CLIENTS = 16
RECOVER_WITHIN_S = 10.0


def test_shard_restart_under_load(start_proxy, launcher, shards):
    """16 clients of acme (s1) loop short transactions on a pool of 4 (pool_timeout 2s) while
    s1 restarts (fast shutdown + start, same port). Expected: errors while it is down
    (class 08 / 57P0x / 53300), each client's own connection stays open (ERROR, not FATAL, in
    transaction mode) and succeeds again within 10 s after s1 is back; the proxy keeps running
    and never holds more than pool_size server connections on s1."""
    proxy = start_proxy(txn_config(launcher, pool_size=4, pool_timeout="2s"))
    s1 = shards["s1"]
    stop = threading.Event()
    restarted_at = [None]
    stats = [{"ok": 0, "errors": {}, "first_ok_after_restart": None, "dropped": None}
             for _ in range(LOAD_CLIENTS)]

    def client(i):
        st = stats[i]
        conn = None
        try:
            conn = proxy.connect(tenant="acme")
            deadline = time.monotonic() + 40
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    conn.execute("SELECT count(*) FROM items").fetchone()
                    st["ok"] += 1
                    if restarted_at[0] is not None and st["first_ok_after_restart"] is None:
                        st["first_ok_after_restart"] = time.monotonic() - restarted_at[0]
                except psycopg.Error as exc:
                    key = exc.sqlstate or type(exc).__name__
                    st["errors"][key] = st["errors"].get(key, 0) + 1
                    if conn.closed or conn.broken:
                        st["dropped"] = f"{key}: {exc}"
                        return
                    time.sleep(0.05)
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001
            st["dropped"] = repr(exc)
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(LOAD_CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        ok_before = sum(s["ok"] for s in stats)
        s1.restart()
        restarted_at[0] = time.monotonic()
        deadline = restarted_at[0] + RECOVER_WITHIN_S
        while time.monotonic() < deadline:
            if all(s["first_ok_after_restart"] is not None or s["dropped"] for s in stats):
                break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    summary = [(s["ok"], s["errors"], s["first_ok_after_restart"], s["dropped"]) for s in stats]
    assert proxy.alive(), "shardgate died during the shard restart"
    assert ok_before > 0, summary
    errors = {}
    for s in stats:
        for k, v in s["errors"].items():
            errors[k] = errors.get(k, 0) + v
    assert errors, f"no client saw an error while s1 restarted: {summary}"
    allowed = lambda code: code.startswith("08") or code in ("57P01", "57P02", "57P03", "53300")  # noqa: E731
    assert all(allowed(k) for k in errors), f"unexpected error kinds {errors}"
    dropped = [s["dropped"] for s in stats if s["dropped"]]
    assert not dropped, f"client connections were dropped (expected ERROR, usable): {dropped}"
    late = [s["first_ok_after_restart"] for s in stats
            if s["first_ok_after_restart"] is None or s["first_ok_after_restart"] > RECOVER_WITHIN_S]
    assert not late, f"clients without a successful transaction {RECOVER_WITHIN_S}s after restart: {summary}"
    assert shardgate_backends(s1) <= 4
    with proxy.connect(tenant="acme") as conn:                  # new clients work too
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)
