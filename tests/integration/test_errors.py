"""Errors shardgate sends itself, each with the SQLSTATE of SPEC.md's table.

libpq hides the SQLSTATE of a startup FATAL, so startup errors are read with the raw client
(pgwire) and, where it adds coverage, also checked to make libpq/psycopg fail.
"""
import socket
import struct
import time

import psycopg
import pytest

import pgshards
import pgwire
from proxyctl import APP_PASSWORD, TENANT_SHARDS, USERS, directory_for


def assert_serves_acme(proxy, shards):
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute("SELECT current_schema(), inet_server_port()").fetchone() == \
            ("tenant_acme", shards["s1"].port)


def test_no_tenant_without_session_switching_is_28000(start_proxy, launcher, shards):
    proxy = start_proxy(launcher.config(tenant={"sources": ["options", "user_suffix"]}))
    err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD)
    assert (err.severity, err.sqlstate) == ("FATAL", "28000"), err.fields
    text = " ".join(err.fields.get(k, "") for k in "MDH")  # message, detail, hint
    assert "shardgate.tenant" in text, err.fields  # names the ways to pass a tenant
    with pytest.raises(psycopg.OperationalError):
        proxy.connect().close()
    assert_serves_acme(proxy, shards)


@pytest.mark.parametrize("how", ["options", "user_suffix"])
def test_unknown_tenant_is_3D000(proxy, shards, how):
    if how == "options":
        err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                                   options="-c shardgate.tenant=nosuchtenant")
    else:
        err = pgwire.startup_error(proxy.host, proxy.port, "app.nosuchtenant", APP_PASSWORD)
    assert (err.severity, err.sqlstate) == ("FATAL", "3D000"), err.fields
    assert "nosuchtenant" in err.message
    assert_serves_acme(proxy, shards)


@pytest.mark.parametrize("user,password", [("app", "wrong-password"),
                                           ("app_md5", "wrong-password"),
                                           ("app_plain", "wrong-password"),
                                           ("nobody", "whatever")])
def test_bad_password_or_unknown_user_is_28P01(proxy, shards, user, password):
    err = pgwire.startup_error(proxy.host, proxy.port, user, password,
                               options="-c shardgate.tenant=acme")
    assert (err.severity, err.sqlstate) == ("FATAL", "28P01"), err.fields
    with pytest.raises(psycopg.OperationalError):
        proxy.connect(tenant="acme", user=user, password=password).close()
    assert_serves_acme(proxy, shards)


def test_tenant_outside_allow_list_is_42501(proxy, shards):
    password = USERS["acme_only"][0]
    with proxy.connect(tenant="acme", user="acme_only", password=password) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)
    for kwargs in ({"options": "-c shardgate.tenant=globex"}, {}):
        user = "acme_only" if kwargs else "acme_only.globex"
        err = pgwire.startup_error(proxy.host, proxy.port, user, password, **kwargs)
        assert (err.severity, err.sqlstate) == ("FATAL", "42501"), (user, err.fields)
        assert "globex" in err.message


def _config_with_extra_shard(launcher, shards, name, port):
    config = launcher.config(connect_timeout="1s")
    config["shards"][name] = {"host": "127.0.0.1", "port": port, "dbname": "app",
                              "user": "shardgate", "password": "x"}
    directory = directory_for({**TENANT_SHARDS, "downco": name})
    return config, directory


def _assert_shard_down_error(proxy, shards, shard_name):
    started = time.monotonic()
    err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                               options="-c shardgate.tenant=downco")
    elapsed = time.monotonic() - started
    assert err.sqlstate == "08006", err.fields
    assert "downco" in err.message and shard_name in err.message, err.fields  # names tenant and shard
    assert elapsed < 3.0, f"08006 took {elapsed:.1f}s with connect_timeout 1s"
    assert_serves_acme(proxy, shards)
    with proxy.connect(tenant="globex") as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_globex",)


def test_shard_with_closed_port_is_08006_and_others_work(start_proxy, launcher, shards):
    config, directory = _config_with_extra_shard(launcher, shards, "s_down", pgshards.free_port())
    proxy = start_proxy(config, directory)
    _assert_shard_down_error(proxy, shards, "s_down")
    _assert_shard_down_error(proxy, shards, "s_down")  # and again: no state stuck from the first failure


def test_shard_that_never_answers_is_08006_within_connect_timeout(start_proxy, launcher, shards):
    """The shard's TCP port accepts (kernel backlog) but never speaks: only a timeout helps."""
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        config, directory = _config_with_extra_shard(launcher, shards, "s_hang",
                                                     blackhole.getsockname()[1])
        proxy = start_proxy(config, directory)
        _assert_shard_down_error(proxy, shards, "s_hang")


MALFORMED_STARTUPS = {
    "length_below_minimum": struct.pack("!I", 3),
    "length_zero_with_body": struct.pack("!II", 0, pgwire.PROTOCOL_3_0),
    "garbage_protocol_version": struct.pack("!II", 8, 0x0A0B0C0D),
    "oversized_length": struct.pack("!II", 20000, pgwire.PROTOCOL_3_0) + b"user\0app\0",
    "huge_length": struct.pack("!II", 0x7FFFFFF0, pgwire.PROTOCOL_3_0),
    "missing_terminator": struct.pack("!II", 16, pgwire.PROTOCOL_3_0) + b"user\0app",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_STARTUPS))
def test_malformed_startup_packet_is_08P01(proxy, shards, case):
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(MALFORMED_STARTUPS[case])
        conn = pgwire.RawConnection.__new__(pgwire.RawConnection)
        conn.sock = sock
        try:
            msg = conn.read_message()
        except (ConnectionError, socket.timeout) as exc:
            pytest.fail(f"{case}: proxy sent no ErrorResponse ({exc})")
        assert msg.type == b"E", f"{case}: expected ErrorResponse, got {msg.type!r} {msg.body[:80]!r}"
        fields = pgwire.parse_error_fields(msg.body)
        assert fields.get("C") == "08P01", (case, fields)
        assert (fields.get("V") or fields.get("S")) == "FATAL", (case, fields)
    assert_serves_acme(proxy, shards)


def test_stalled_startups_do_not_block_other_clients(proxy, shards):
    """Clients that send half a startup packet, or nothing, must not hold up anyone else."""
    stalled = [socket.create_connection((proxy.host, proxy.port), timeout=5) for _ in range(5)]
    try:
        stalled[0].sendall(pgwire.startup_packet({"user": "app", "database": "app"})[:7])
        started = time.monotonic()
        assert_serves_acme(proxy, shards)
        assert time.monotonic() - started < 2.0
    finally:
        for sock in stalled:
            sock.close()


def test_ssl_and_gss_requests_are_refused_with_N(proxy, shards):
    for code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
        with pgwire.RawConnection(proxy.host, proxy.port) as conn:
            conn.send(struct.pack("!II", 8, code))
            assert conn._recv_exact(1) == b"N"
            conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
            assert conn.query("SELECT current_schema()") == [("tenant_acme",)]
    with psycopg.connect(proxy.conninfo("acme", sslmode="prefer")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
