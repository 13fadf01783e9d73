"""Timeouts PgBouncer users expect (issue 17), with PostgreSQL's errors:

- client_idle_timeout: a client idle (no transaction open) that long gets FATAL 57P05 and is
  closed; a client that keeps talking is not.
- idle_transaction_timeout: a client idle inside a transaction that long gets FATAL 25P03;
  its transaction is rolled back and its server connection goes back to the pool (the next
  client gets it), in both pool modes.
- query_wait_timeout: the tier's pool_timeout under PgBouncer's name (53300 after it); giving
  both names is a config error.
- tcp_keepalive: on by default on client and server sockets with the configured timings;
  `tcp_keepalive: false` turns it off.

Limits are a fraction of a second here so the file runs in seconds.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD, write_json_yaml
from txn_helpers import txn_config

LIMIT = "600ms"
LIMIT_S = 0.6


def timeout_config(launcher, mode="transaction", **top) -> dict:
    config = txn_config(launcher, pool_size=1, pool_mode=mode, pool_timeout="3s")
    config.update(top)
    return config


def raw_client(proxy, tenant="acme") -> pgwire.RawConnection:
    conn = pgwire.RawConnection(proxy.host, proxy.port, timeout=10)
    conn.startup("app", APP_PASSWORD, options=f"-c shardgate.tenant={tenant}")
    return conn


def unsolicited_fatal(conn: pgwire.RawConnection, within: float) -> tuple[pgwire.ServerError, float]:
    """Waits (without sending anything) for the FATAL the proxy sends on its own, then EOF."""
    conn.sock.settimeout(within)
    started = time.monotonic()
    msg = conn.read_message()
    elapsed = time.monotonic() - started
    assert msg.type == b"E", f"expected an ErrorResponse, got {msg.type!r} {msg.body!r}"
    error = pgwire.ServerError(pgwire.parse_error_fields(msg.body))
    assert error.severity == "FATAL", error
    with pytest.raises((ConnectionError, OSError)):
        conn.read_message()  # closed after the FATAL
    return error, elapsed


# --- client_idle_timeout -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_client_idle_timeout_closes_idle_client(start_proxy, launcher, mode):
    proxy = start_proxy(timeout_config(launcher, mode, client_idle_timeout=LIMIT))
    conn = raw_client(proxy)
    assert conn.query("SELECT 1") == [("1",)]
    error, elapsed = unsolicited_fatal(conn, within=5)
    assert error.sqlstate == "57P05", error
    assert "idle" in error.message
    assert elapsed < LIMIT_S + 1.0
    assert "client idle too long" in proxy.log()


def test_client_idle_timeout_spares_a_talking_client(start_proxy, launcher):
    proxy = start_proxy(timeout_config(launcher, client_idle_timeout=LIMIT))
    with proxy.connect(tenant="acme") as conn:
        deadline = time.monotonic() + 3 * LIMIT_S
        while time.monotonic() < deadline:  # never idle for more than half the limit
            assert conn.execute("SELECT 1").fetchone() == (1,)
            time.sleep(LIMIT_S / 3)
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_client_idle_timeout_off_by_default(start_proxy, launcher):
    proxy = start_proxy(timeout_config(launcher))
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
        time.sleep(2 * LIMIT_S)
        assert conn.execute("SELECT 2").fetchone() == (2,)


# --- idle_transaction_timeout --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_idle_transaction_timeout_rolls_back_and_returns_the_connection(
        start_proxy, launcher, shards, mode):
    proxy = start_proxy(timeout_config(launcher, mode, idle_transaction_timeout=LIMIT,
                                       client_idle_timeout="60s"))
    marker = f"idle-txn-{mode}-{time.monotonic_ns()}"
    conn = raw_client(proxy)
    conn.query("BEGIN")
    conn.query(f"INSERT INTO items (body) VALUES ('{marker}')")
    error, elapsed = unsolicited_fatal(conn, within=5)
    assert error.sqlstate == "25P03", error
    assert "idle-in-transaction" in error.message
    assert elapsed < LIMIT_S + 1.0
    # Rolled back on the server ...
    s1 = shards["s1"]
    assert s1.scalar("SELECT count(*) FROM tenant_acme.items WHERE body = %s", (marker,)) == 0
    assert s1.scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                     "AND state LIKE 'idle in transaction%%'", (s1.user,)) == 0
    # ... and the pool's only server connection serves the next client at once.
    with proxy.connect(tenant="acme") as other:
        started = time.monotonic()
        assert other.execute("SELECT count(*) FROM items WHERE body = %s",
                             (marker,)).fetchone() == (0,)
        assert time.monotonic() - started < 1.0


def test_idle_transaction_timeout_leaves_idle_clients_alone(start_proxy, launcher):
    """Outside a transaction only client_idle_timeout (off here) applies."""
    proxy = start_proxy(timeout_config(launcher, idle_transaction_timeout=LIMIT))
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
        time.sleep(2 * LIMIT_S)
        assert conn.execute("SELECT 2").fetchone() == (2,)
        with conn.transaction():  # a busy transaction is not idle
            conn.execute("SELECT pg_sleep(%s)", (2 * LIMIT_S,))
            conn.execute("SELECT 3")


# --- query_wait_timeout = pool_timeout -----------------------------------------------------------
def test_query_wait_timeout_is_pool_timeout(start_proxy, launcher):
    config = timeout_config(launcher)
    del config["tiers"]["default"]["pool_timeout"]
    config["tiers"]["default"]["query_wait_timeout"] = "300ms"
    proxy = start_proxy(config)
    with proxy.connect(tenant="acme") as holder, proxy.connect(tenant="acme") as waiter:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # holds the pool's only connection
        started = time.monotonic()
        with pytest.raises(psycopg.Error) as err:
            waiter.execute("SELECT 1")
        waited = time.monotonic() - started
        assert err.value.sqlstate == "53300", err.value
        assert 0.25 < waited < 2.0, waited
        holder.execute("COMMIT")
        assert waiter.execute("SELECT 1").fetchone() == (1,)


def test_pool_timeout_and_query_wait_timeout_together_refused(launcher, binary, tmp_path):
    config = timeout_config(launcher)
    config["tiers"]["default"]["query_wait_timeout"] = "1s"
    config["listen"] = "127.0.0.1:1"
    config["directory"]["file"] = str(tmp_path / "directory.yaml")
    (tmp_path / "directory.yaml").write_text("tenants: {}\n")
    path = write_json_yaml(tmp_path / "shardgate.yaml", config)
    result = subprocess.run([str(binary), "--check-config", str(path)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "same setting" in result.stdout + result.stderr


# --- tcp_keepalive -------------------------------------------------------------------------------
def keepalive_timers(port: int, side: str) -> list[float]:
    """Seconds left on the keepalive timer of each established socket of shardgate's on `port`
    (side 'sport': its listening port, client sockets; 'dport': a shard's port, server sockets).
    A socket without keepalive shows no keepalive timer. Read once the sockets are quiet: while
    data is unacknowledged ss shows the retransmit timer instead."""
    time.sleep(0.3)
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( {side} = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    timers = []
    for line in out.splitlines():
        m = re.search(r"timer:\(keepalive,(?:(\d+)min)?([\d.]+)(ms|sec)", line)
        if m:
            minutes = int(m.group(1) or 0)
            value = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
            timers.append(minutes * 60 + value)
        else:
            timers.append(-1.0)
    return timers


def test_tcp_keepalive_on_both_sides(start_proxy, launcher, shards):
    proxy = start_proxy(timeout_config(launcher, tcp_keepalive={"idle": "25s", "interval": "5s",
                                                                 "count": 3}))
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
        client_side = keepalive_timers(proxy.port, "sport")
        server_side = keepalive_timers(shards["s1"].port, "dport")
        assert client_side and all(0 < t <= 25 for t in client_side), client_side
        assert any(0 < t <= 25 for t in server_side), server_side


def test_tcp_keepalive_from_a_reload_reaches_the_clients_accepted_after_it(start_proxy, launcher):
    """Client sockets take keepalive from the listening socket, so a reload must reset it
    there: the client connected before keeps none, the one connected after has the timer."""
    proxy = start_proxy(timeout_config(launcher, tcp_keepalive=False))
    config = json.loads(Path(proxy.config_path).read_text())  # as started: paths filled in
    with proxy.connect(tenant="acme") as before:
        before.execute("SELECT 1")
        assert all(t < 0 for t in keepalive_timers(proxy.port, "sport"))
        config["tcp_keepalive"] = {"idle": "25s", "interval": "5s", "count": 3}
        write_json_yaml(proxy.config_path, config)
        proxy.reload()
        with proxy.connect(tenant="acme") as after:
            after.execute("SELECT 1")
            timers = keepalive_timers(proxy.port, "sport")
            assert len(timers) == 2, timers
            assert sorted(0 < t <= 25 for t in timers) == [False, True], timers


def test_tcp_keepalive_off(start_proxy, launcher):
    proxy = start_proxy(timeout_config(launcher, tcp_keepalive=False))
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
        client_side = keepalive_timers(proxy.port, "sport")
        assert client_side and all(t < 0 for t in client_side), client_side
