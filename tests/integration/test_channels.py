"""LISTEN/NOTIFY channels are database-wide in PostgreSQL; shardgate keeps each tenant to its own.

acme and initech share shard s1's database. On direct connections a NOTIFY on channel `jobs`
reaches every LISTEN jobs of the database (test_direct_connections_share_channels shows the
leak). Through shardgate (the module's proxy: tier `default`, session mode) acme listening on
`jobs` hears acme's own NOTIFY/pg_notify under the name it wrote, and never initech's. In
transaction mode LISTEN is refused (0A000, the tier's session_state rule: the server connection
changes after every transaction) while NOTIFY and pg_notify are still scoped to the tenant.

Notifications are read by psycopg while the listening connection runs a statement; every
negative check first waits for a marker notification sent after the foreign one (PostgreSQL
delivers notifications in commit order, so anything sent before the marker has arrived by then).
"""
from __future__ import annotations

import struct
import time

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD

MARK = "marker"


def listen(conn: psycopg.Connection, *channels: str) -> list:
    got: list = []
    conn.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
    for channel in channels:
        conn.execute(f"LISTEN {channel}")
    return got


def wait_for(conn: psycopg.Connection, got: list, item: tuple, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while item not in got:
        assert time.monotonic() < deadline, f"{item} never arrived; got {got}"
        time.sleep(0.05)
        conn.execute("SELECT 1")


def test_direct_connections_share_channels(shards):
    """The leak: two sessions on one database, one NOTIFY, both hear it."""
    with shards["s1"].connect() as a, shards["s1"].connect() as b:
        got = listen(a, "jobs")
        b.execute("NOTIFY jobs, 'from another tenant'")
        b.execute("SELECT pg_notify('jobs', 'via pg_notify')")
        wait_for(a, got, ("jobs", "via pg_notify"))
        assert ("jobs", "from another tenant") in got


def test_tenant_hears_only_its_own_channel(proxy, shards):
    with proxy.connect(tenant="acme") as acme, proxy.connect(tenant="acme") as acme2, \
            proxy.connect(tenant="initech") as initech:
        got = listen(acme, "jobs")
        initech.execute("NOTIFY jobs, 'initech notify'")
        initech.execute("SELECT pg_notify('jobs', 'initech pg_notify')")
        with shards["s1"].connect() as direct:  # unscoped names are nobody's
            direct.execute("NOTIFY jobs, 'direct'")
        acme2.execute("NOTIFY jobs, 'acme notify'")
        acme2.execute("SELECT pg_notify('jobs', 'acme pg_notify')")
        acme2.execute("SELECT pg_notify('jobs', %s)", (MARK,))
        wait_for(acme, got, ("jobs", MARK))
        assert got == [("jobs", "acme notify"), ("jobs", "acme pg_notify"), ("jobs", MARK)], got
        # initech, listening on the same name, hears only initech.
        heard = listen(initech, "jobs")
        acme2.execute("NOTIFY jobs, 'acme again'")
        initech.execute("SELECT pg_notify('jobs', %s)", (MARK,))
        wait_for(initech, heard, ("jobs", MARK))
        assert heard == [("jobs", MARK)], heard


def test_idle_listener_gets_notifications_as_they_come(proxy):
    """A session-mode listener that sends nothing still gets its notifications (the relay
    reads the server while the client is idle), the sender's server pid intact."""
    with pgwire.RawConnection(proxy.host, proxy.port, timeout=5) as raw, \
            proxy.connect(tenant="acme") as acme2, proxy.connect(tenant="initech") as initech:
        raw.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        raw.query("LISTEN jobs")
        sender_pid = acme2.execute("SELECT pg_backend_pid()").fetchone()[0]
        initech.execute("NOTIFY jobs, 'initech'")
        acme2.execute("NOTIFY jobs, 'first'")
        msg = raw.read_message()  # no statement of the listener's in between
        assert msg.type == b"A", msg
        channel, payload, _ = msg.body[4:].split(b"\0", 2)
        assert (struct.unpack("!i", msg.body[:4])[0], channel, payload) == \
            (sender_pid, b"jobs", b"first")


def test_names_as_written_and_payload_intact(proxy):
    long_channel = "c" * 60  # acme. + 60 > 63 bytes: hashed on the server
    payload = "it's \\ \"quoted\" ünïcode, 'x'"
    with proxy.connect(tenant="acme") as acme, proxy.connect(tenant="acme") as acme2, \
            proxy.connect(tenant="initech") as initech:
        got = listen(acme, '"MixedCase"', long_channel, "jobs")
        initech.execute("NOTIFY \"MixedCase\", 'initech'")
        initech.execute(f"NOTIFY {long_channel}, 'initech'")
        acme2.execute("SELECT pg_notify('MixedCase', %s)", (payload,))
        acme2.execute("NOTIFY mixedcase, 'folded: another channel'")
        acme2.execute(f"NOTIFY {long_channel}, 'long'")
        acme2.execute("SELECT pg_notify('jobs', %s)", (MARK,))
        wait_for(acme, got, ("jobs", MARK))
        assert got == [("MixedCase", payload), (long_channel, "long"), ("jobs", MARK)], got


def test_unlisten(proxy):
    with proxy.connect(tenant="acme") as acme, proxy.connect(tenant="acme") as acme2:
        got = listen(acme, "jobs", "other", "marks")
        acme.execute("UNLISTEN jobs")
        acme2.execute("NOTIFY jobs, 'after unlisten'")
        acme2.execute("NOTIFY other, 'still listening'")
        acme2.execute(f"NOTIFY marks, '{MARK}'")
        wait_for(acme, got, ("marks", MARK))
        assert got == [("other", "still listening"), ("marks", MARK)], got
        acme.execute("UNLISTEN *")
        acme.execute("LISTEN marks")
        acme2.execute("NOTIFY other, 'after unlisten all'")
        acme2.execute("NOTIFY marks, 'second'")
        wait_for(acme, got, ("marks", "second"))
        assert ("other", "after unlisten all") not in got


def test_extended_protocol_is_scoped(proxy):
    with proxy.connect(tenant="acme") as acme, proxy.connect(tenant="acme") as acme2, \
            proxy.connect(tenant="initech") as initech:
        got = []
        acme.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
        acme.execute("LISTEN jobs", prepare=True)  # Parse/Bind/Execute
        for i in range(3):  # prepared after a few runs: Bind of a named statement
            initech.execute("SELECT pg_notify('jobs', %s)", (f"initech {i}",), prepare=True)
            acme2.execute("SELECT pg_notify('jobs', %s)", (f"acme {i}",), prepare=True)
        acme2.execute("SELECT pg_notify('jobs', %s)", (MARK,))
        wait_for(acme, got, ("jobs", MARK))
        assert got == [("jobs", "acme 0"), ("jobs", "acme 1"), ("jobs", "acme 2"),
                       ("jobs", MARK)], got


def test_channel_computed_at_run_time_is_refused(proxy):
    with proxy.connect(tenant="acme") as acme:
        for sql, params in (("SELECT pg_notify(%s, 'x')", ("jobs",)),
                            ("SELECT pg_notify(current_user, 'x')", None),
                            ("SELECT pg_notify('acme.' || 'jobs', 'x')", None)):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
                acme.execute(sql, params)
            assert err.value.sqlstate == "42501"
            assert "computed at run time" in str(err.value)
            assert "string literal" in (err.value.diag.message_hint or "")
        assert acme.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)


def test_transaction_mode_refuses_listen_and_scopes_notify(proxy, start_proxy, launcher):
    txn = start_proxy(launcher.config(tiers={"default": {
        "pool": "shared", "pool_size": 4, "pool_mode": "transaction"}}))
    with txn.connect(tenant="acme") as acme_txn, txn.connect(tenant="initech") as initech_txn:
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.FeatureNotSupported) as err:
                acme_txn.execute("LISTEN jobs", prepare=prepare)
            assert err.value.sqlstate == "0A000"
            assert "pool_mode: session" in (err.value.diag.message_hint or "")
        with proxy.connect(tenant="acme") as acme:  # session mode: may listen
            got = listen(acme, "jobs")
            initech_txn.execute("NOTIFY jobs, 'initech via txn'")
            initech_txn.execute("SELECT pg_notify('jobs', 'initech pg_notify via txn')")
            acme_txn.execute("NOTIFY jobs, 'acme via txn'")
            acme_txn.execute("UNLISTEN *")
            acme_txn.execute("SELECT pg_notify('jobs', %s)", (MARK,))
            wait_for(acme, got, ("jobs", MARK))
            assert got == [("jobs", "acme via txn"), ("jobs", MARK)], got


def test_other_tenants_notifications_are_never_delivered(shards, start_proxy, launcher):
    """Defence in depth: a tier that allows DO blocks lets acme LISTEN on initech's server
    channel (and an unscoped one) behind the rewrite's back; the server then sends acme's
    connection initech's notifications, and shardgate drops them on the way to the client."""
    p = start_proxy(launcher.config(tiers={"default": {
        "pool": "shared", "pool_size": 10, "pool_mode": "session",
        "guard": {"allow_dynamic_sql": True}}}))
    with p.connect(tenant="acme") as acme, p.connect(tenant="initech") as initech:
        got = listen(acme, "marks")
        acme.execute("""DO $$ BEGIN EXECUTE 'LISTEN "initech.jobs"'; EXECUTE 'LISTEN jobs'; END $$""")
        listening = {r[0] for r in acme.execute("SELECT pg_listening_channels()")}
        assert {"initech.jobs", "jobs", "acme.marks"} <= listening, listening
        initech.execute("NOTIFY jobs, 'initech secret'")
        with shards["s1"].connect() as direct:
            direct.execute("NOTIFY jobs, 'unscoped'")
        acme.execute(f"NOTIFY marks, '{MARK}'")
        wait_for(acme, got, ("marks", MARK))
        assert got == [("marks", MARK)], got


def fast_path_call(raw: pgwire.RawConnection, oid: int, *args: bytes) -> list:
    """A FunctionCall message (text arguments, text result); the messages up to ReadyForQuery."""
    body = struct.pack("!ihh", oid, 0, len(args))
    for arg in args:
        body += struct.pack("!i", len(arg)) + arg
    raw.send(pgwire.message(b"F", body + struct.pack("!h", 0)))
    answer = []
    while not answer or answer[-1].type != b"Z":
        answer.append(raw.read_message())
    return answer


PG_NOTIFY_OID = 3036


def test_fast_path_function_call_is_refused(proxy, shards):
    """pg_notify called by OID through the protocol's fast path carries the channel as data:
    directly it notifies any channel; through shardgate it is refused (42501), so acme cannot
    send into initech's server channel."""
    with shards["s1"].connect() as watcher:
        got = listen(watcher, '"initech.jobs"')
        s1 = shards["s1"]
        with pgwire.RawConnection(s1.host, s1.port) as direct:
            direct.startup(s1.user, s1.password, database=s1.dbname)
            answer = fast_path_call(direct, PG_NOTIFY_OID, b"initech.jobs", b"direct")
            assert [m.type for m in answer] == [b"V", b"Z"], answer
        wait_for(watcher, got, ("initech.jobs", "direct"))
    with proxy.connect(tenant="initech") as initech:
        heard = listen(initech, "jobs")
        with pgwire.RawConnection(proxy.host, proxy.port) as raw:
            raw.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
            answer = fast_path_call(raw, PG_NOTIFY_OID, b"initech.jobs", b"spoofed by acme")
            assert [m.type for m in answer] == [b"E", b"Z"], answer
            error = pgwire.parse_error_fields(answer[0].body)
            assert error["C"] == "42501" and "fast-path" in error["M"], error
            assert raw.query("SELECT current_schema()") == [("tenant_acme",)]
        initech.execute(f"NOTIFY jobs, '{MARK}'")
        wait_for(initech, heard, ("jobs", MARK))
        assert heard == [("jobs", MARK)], heard
