"""Production hardening (issue 17): the open-file limit raised at start and the client capacity
it leaves, accept() failures backed off and logged once per burst, the global
max_client_conn (FATAL 53300 right after the startup packet) and client_login_timeout
(stalled startup packets and handshakes closed).
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import struct
import time
from contextlib import contextmanager

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD, write_json_yaml

TOO_MANY_CONNECTIONS = "53300"


# --- helpers --------------------------------------------------------------------------------------
@contextmanager
def open_file_limit(launcher, tmp_path, soft: int, hard: int):
    """Proxies started inside run under `prlimit --nofile=soft:hard` (exec: same pid)."""
    wrapper = tmp_path / "shardgate-prlimit"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --nofile={soft}:{hard} -- "{launcher.binary}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    original = launcher.binary
    launcher.binary = wrapper
    try:
        yield
    finally:
        launcher.binary = original


def max_open_files(pid: int) -> tuple[int, int]:
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def capacity_line(proxy) -> dict[str, str]:
    for line in proxy.log().splitlines():
        if " client capacity " in line:
            return dict(re.findall(r"(\w+)=(\S+)", line))
    raise AssertionError(f"no 'client capacity' line in the log:\n{proxy.log()[-3000:]}")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def startup_only(proxy, tenant: str = "acme") -> pgwire.RawConnection:
    """Sends a startup packet and reads the server's first answer (the SCRAM request): the
    client is then past its startup packet, in the middle of authentication."""
    conn = pgwire.RawConnection(proxy.host, proxy.port)
    conn.send(pgwire.startup_packet({"user": "app", "database": "app",
                                     "options": f"-c shardgate.tenant={tenant}"}))
    msg = conn.read_message()
    assert msg.type == b"R", f"expected an authentication request, got {msg.type!r} {msg.body!r}"
    return conn


def first_answer(conn: pgwire.RawConnection) -> pgwire.Message:
    return conn.read_message()


def closed_within(sock: socket.socket, timeout: float) -> tuple[float, bytes]:
    """Reads until EOF; returns (seconds until EOF, bytes received). Fails if still open."""
    started = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return time.monotonic() - started, data
            data += chunk
    except ConnectionResetError:
        return time.monotonic() - started, data
    except socket.timeout:
        raise AssertionError(f"the proxy kept the connection open for {timeout}s "
                             f"(received {data!r})")


def error_in(data: bytes) -> dict:
    assert data[:1] == b"E", f"expected an ErrorResponse before the close, got {data!r}"
    length = struct.unpack("!I", data[1:5])[0]
    return pgwire.parse_error_fields(data[5:1 + length])


# --- (a) the open-file limit ----------------------------------------------------------------------
def test_soft_open_file_limit_raised_to_hard_and_capacity_logged(start_proxy, launcher, tmp_path):
    with open_file_limit(launcher, tmp_path, 256, 4096):
        proxy = start_proxy(launcher.config(workers=2))
    # The wrapper only sets the limits: without raising, the proxy would keep 256.
    assert max_open_files(proxy.pid) == (4096, 4096)
    assert "open-file limit raised from=256 to=4096" in proxy.log()
    cap = capacity_line(proxy)
    assert cap["open_files"] == "4096", cap
    # base config: tier default (shared, pool_size 50) on s1 and s2
    assert cap["server_connections"] == "100", cap
    assert cap["max_client_conn"] == "auto", cap
    assert int(cap["clients"]) == 4096 - 100 - int(cap["reserved_for_process"]), cap
    assert 3800 < int(cap["clients"]) < 4096 - 100, cap
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_capacity_accounts_for_what_the_idle_process_holds(start_proxy, launcher, tmp_path):
    """reserved_for_process, less its 16 admin connections and 32 of margin (docs), covers what
    the process really has open besides clients and server connections."""
    config = launcher.config(workers=2)
    with open_file_limit(launcher, tmp_path, 1024, 1024):
        proxy = start_proxy(config)
    with proxy.connect(tenant="acme") as conn:  # one session and one server connection
        conn.execute("SELECT 1")
    # the client is gone; its server connection stays pooled
    wait_for(lambda: "client disconnected" in proxy.log(), 5, "the client's socket to close")
    fds = len(os.listdir(f"/proc/{proxy.pid}/fd"))
    cap = capacity_line(proxy)
    assert fds - 1 <= int(cap["reserved_for_process"]) - 16 - 32, (fds, cap)


def test_auto_limit_refuses_clients_the_descriptors_cannot_carry(start_proxy, launcher, tmp_path):
    """With a small hard limit, max_client_conn: auto is what is left after the pools: the
    client past it gets 53300 instead of an accept() failing with EMFILE."""
    config = launcher.config(workers=1)
    config["tiers"]["default"]["pool_size"] = 2
    with open_file_limit(launcher, tmp_path, 120, 120):
        proxy = start_proxy(config)
    clients = int(capacity_line(proxy)["clients"])
    assert 0 < clients < 60, capacity_line(proxy)
    held = [startup_only(proxy) for _ in range(clients)]
    try:
        err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                                   options="-c shardgate.tenant=acme")
        assert err.sqlstate == TOO_MANY_CONNECTIONS and err.severity == "FATAL", str(err)
        assert f"max_client_conn auto: {clients}" in err.message, str(err)
        assert "open-file" in err.fields.get("H", ""), err.fields
    finally:
        for c in held:
            c.close()
    conn = wait_for(lambda: _try_connect(proxy), 5, "a client after the others left")
    conn.close()


def _try_connect(proxy):
    try:
        return proxy.connect(tenant="acme")
    except psycopg.OperationalError:
        return None


def test_accept_failures_back_off_and_log_once_per_burst(start_proxy, launcher, tmp_path):
    """max_client_conn above the capacity: once descriptors run out accept() fails; the proxy
    logs the burst once (not per attempt), and serves again when clients leave."""
    config = launcher.config(workers=1, max_client_conn=1000)
    config["tiers"]["default"]["pool_size"] = 2
    with open_file_limit(launcher, tmp_path, 100, 100):
        proxy = start_proxy(config)
    assert "max_client_conn is above what the open-file limit leaves" in proxy.log()
    sockets = []
    try:
        for _ in range(150):  # the listen backlog (1024) takes what accept() cannot
            sockets.append(socket.create_connection((proxy.host, proxy.port), timeout=5))
        wait_for(lambda: "accept failing" in proxy.log(), 5, "'accept failing' in the log")
        time.sleep(1.5)  # ~30 retries at 50 ms
        log = proxy.log()
        assert log.count("accept failing") == 1, log[-3000:]
        assert "Too many open files" in log
        assert "accept failed" not in log  # the old line logged per attempt
        assert proxy.alive()
    finally:
        for s in sockets:
            s.close()
    wait_for(lambda: "accept recovered" in proxy.log(), 10, "'accept recovered' in the log")
    line = next(l for l in proxy.log().splitlines() if "accept recovered" in l)
    assert int(re.search(r"failed_attempts=(\d+)", line).group(1)) >= 10, line
    conn = wait_for(lambda: _try_connect(proxy), 10, "a client after the burst")
    with conn:
        assert conn.execute("SELECT current_schema()").fetchone()[0] == "tenant_acme"


# --- (b) max_client_conn --------------------------------------------------------------------------
def test_max_client_conn_refuses_the_fourth_client_before_authentication(start_proxy, launcher):
    proxy = start_proxy(launcher.config(max_client_conn=3))
    held = [proxy.connect(tenant="acme"), proxy.connect(tenant="initech"),
            proxy.connect(tenant="globex")]
    try:
        # Wrong password, and still 53300: refused before any authentication work (no
        # authentication request comes first).
        with pgwire.RawConnection(proxy.host, proxy.port) as raw:
            raw.send(pgwire.startup_packet({"user": "app", "database": "app",
                                            "options": "-c shardgate.tenant=benchco"}))
            msg = raw.read_message()
            assert msg.type == b"E", f"expected 53300 first, got {msg.type!r}"
            err = pgwire.ServerError(pgwire.parse_error_fields(msg.body))
            assert err.sqlstate == TOO_MANY_CONNECTIONS and err.severity == "FATAL", str(err)
            assert "max_client_conn 3" in err.message, str(err)
            assert "max_client_conn" in err.fields.get("H", ""), err.fields
            closed_within(raw.sock, 5)  # and the connection is closed
        with pytest.raises(psycopg.OperationalError, match="max_client_conn"):
            proxy.connect(tenant="acme").close()
        # a cancel request is not a client: it is never refused
        with pgwire.RawConnection(proxy.host, proxy.port) as raw:
            raw.send(struct.pack("!IIII", 16, 80877102, 1, 2))
            elapsed, data = closed_within(raw.sock, 5)
            assert data == b"", data
        for conn in held:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
        held.pop().close()
        conn = wait_for(lambda: _try_connect(proxy), 5, "a client after one left")
        held.append(conn)
        assert conn.execute("SELECT current_schema()").fetchone()[0] == "tenant_acme"
        with pytest.raises(psycopg.OperationalError, match="max_client_conn"):
            proxy.connect(tenant="acme").close()
    finally:
        for conn in held:
            conn.close()


def test_max_client_conn_change_applies_on_sighup(start_proxy, launcher):
    proxy = start_proxy(launcher.config(max_client_conn=1))
    with proxy.connect(tenant="acme") as first:
        with pytest.raises(psycopg.OperationalError, match="max_client_conn 1"):
            proxy.connect(tenant="acme").close()
        config = json.loads(proxy.config_path.read_text())
        config["max_client_conn"] = 2
        write_json_yaml(proxy.config_path, config)
        before = proxy.log().count("configuration reloaded")
        os.kill(proxy.pid, signal.SIGHUP)
        wait_for(lambda: proxy.log().count("configuration reloaded") > before, 5, "the reload")
        assert "max_client_conn=2" in proxy.log()  # the capacity line again, with the new limit
        with proxy.connect(tenant="acme") as second:
            assert second.execute("SELECT 1").fetchone()[0] == 1
            with pytest.raises(psycopg.OperationalError, match="max_client_conn 2"):
                proxy.connect(tenant="acme").close()
        assert first.execute("SELECT 1").fetchone()[0] == 1


# --- (c) client_login_timeout ---------------------------------------------------------------------
def test_login_timeout_closes_stalled_connections(start_proxy, launcher):
    proxy = start_proxy(launcher.config(client_login_timeout="1s"))

    silent = socket.create_connection((proxy.host, proxy.port), timeout=5)
    partial = socket.create_connection((proxy.host, proxy.port), timeout=5)
    packet = pgwire.startup_packet({"user": "app", "database": "app"})
    partial.sendall(packet[:6])  # the length and part of the version
    ssl_then_nothing = socket.create_connection((proxy.host, proxy.port), timeout=5)
    ssl_then_nothing.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
    assert ssl_then_nothing.recv(1) == b"N"
    mid_scram = startup_only(proxy)  # AuthenticationSASL received, never answered

    for name, sock in (("silent", silent), ("partial startup packet", partial),
                       ("after SSLRequest", ssl_then_nothing), ("mid-SCRAM", mid_scram.sock)):
        elapsed, data = closed_within(sock, 4)
        assert elapsed < 2.5, f"{name}: closed after {elapsed:.1f}s with client_login_timeout 1s"
        err = error_in(data)
        assert err.get("C") == "08P01" and "client_login_timeout" in err.get("M", ""), (name, err)
        sock.close()
    assert proxy.log().count("client login timed out") == 4, proxy.log()[-3000:]
    assert proxy.alive()


def test_login_timeout_spares_clients_that_logged_in(start_proxy, launcher):
    proxy = start_proxy(launcher.config(client_login_timeout="1s"))
    with proxy.connect(tenant="acme") as conn:
        time.sleep(1.6)  # past the timeout: a deadline left armed would have closed it
        assert conn.execute("SELECT current_schema()").fetchone()[0] == "tenant_acme"
    # a slow but timely login: startup packet sent in two parts 0.4 s apart
    with pgwire.RawConnection(proxy.host, proxy.port) as raw:
        packet = pgwire.startup_packet({"user": "app", "database": "app",
                                        "options": "-c shardgate.tenant=acme"})
        raw.send(packet[:10])
        time.sleep(0.4)
        raw.send(packet[10:])
        _finish_scram(raw)
        time.sleep(1.2)
        assert raw.query("SELECT 1") == [("1",)]
    assert "client login timed out" not in proxy.log()


def _finish_scram(raw: pgwire.RawConnection) -> None:
    """Answers the authentication the proxy asks for after a startup packet sent by hand."""
    scram = pgwire.ScramClient(APP_PASSWORD)
    while True:
        msg = raw.read_message()
        if msg.type == b"E":
            raise pgwire.ServerError(pgwire.parse_error_fields(msg.body))
        if msg.type == b"Z":
            return
        if msg.type != b"R":
            continue
        code = struct.unpack("!I", msg.body[:4])[0]
        if code == 10:
            first = scram.client_first()
            raw.send(pgwire.message(b"p", pgwire.cstr("SCRAM-SHA-256") +
                                    struct.pack("!i", len(first)) + first))
        elif code == 11:
            raw.send(pgwire.message(b"p", scram.client_final(msg.body[4:])))
        elif code == 12:
            scram.verify_server_final(msg.body[4:])
