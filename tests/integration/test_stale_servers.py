"""Stale server connections (issue 17): idle pooled server connections that the server closed
(a restart, a failover, pg_terminate_backend) never reach a client.

- After a shard restart (fast shutdown + start) with idle pooled connections, in both pool
  modes, the next 100 requests of its tenants get a result or 08006, never the dead
  connection's 57P01 (or an 08P01).
- The same after pg_terminate_backend of every idle backend shardgate holds (instant, so no
  one-second housekeeping tick can hide the problem).
- A shard that is down answers 08006 fast.
"""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from admin_helpers import admin_rows
from txn_helpers import txn_config

REQUESTS = 100
POOL = 6
TENANTS = ("acme", "initech")  # both on s1


def mode_config(launcher, mode: str) -> dict:
    return txn_config(launcher, pool_size=POOL, pool_mode=mode, pool_timeout="3s")


def fill_pool(proxy) -> None:
    """Opens POOL server connections at once (one per concurrent client), then lets every client
    go: in session mode their connections return to the pool; in transaction mode they were
    returned after each transaction. Every connection was used moments ago."""
    barrier = threading.Barrier(POOL)
    errors = []

    def client(i):
        try:
            with proxy.connect(tenant=TENANTS[i % 2]) as conn:
                with conn.transaction():
                    conn.execute("SELECT 1")
                    barrier.wait(timeout=10)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(POOL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors


def shardgate_idle_backends(shard, at_least: int = POOL // 2, within: float = 5.0) -> list[int]:
    """shardgate's idle backends on `shard`, once there are `at_least` of them or `within`
    seconds have passed. Connections come back to the pool moments after fill_pool's clients
    leave (in session mode after a reset the backend runs), so on a loaded machine a look
    straight away can find them still busy."""
    deadline = time.monotonic() + within
    while True:
        pids = [r[0] for r in shard.sql(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s AND state = 'idle' "
            "AND pid <> pg_backend_pid()", (shard.user,))]
        if len(pids) >= at_least or time.monotonic() >= deadline:
            return pids
        time.sleep(0.05)


def run_requests(proxy, mode: str) -> dict[str, int]:
    """REQUESTS statements of s1's tenants; counts results and errors by SQLSTATE. Transaction
    mode: a few client connections take turns; session mode: a new connection per request
    (what takes a pooled server connection in that mode)."""
    outcome: dict[str, int] = {}

    def count(key):
        outcome[key] = outcome.get(key, 0) + 1

    if mode == "transaction":
        clients = [proxy.connect(tenant=t) for t in TENANTS]
        try:
            for i in range(REQUESTS):
                conn = clients[i % len(clients)]
                try:
                    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
                    count("ok")
                except psycopg.Error as exc:
                    count(exc.sqlstate or type(exc).__name__)
                    if conn.closed or conn.broken:
                        clients[i % len(clients)] = proxy.connect(tenant=TENANTS[i % 2])
        finally:
            for c in clients:
                c.close()
    else:
        for i in range(REQUESTS):
            try:
                with proxy.connect(tenant=TENANTS[i % 2]) as conn:
                    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
                count("ok")
            except psycopg.Error as exc:
                count(exc.sqlstate or type(exc).__name__)
    return outcome


def assert_result_or_08006(outcome: dict[str, int]) -> None:
    assert sum(outcome.values()) == REQUESTS
    bad = {k: v for k, v in outcome.items() if k not in ("ok", "08006")}
    assert not bad, f"requests answered from a dead server connection: {outcome}"
    assert outcome.get("ok", 0) > 0, outcome


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_shard_restart_with_idle_pooled_connections(start_proxy, launcher, shards, mode):
    s1 = shards["s1"]
    proxy = start_proxy(mode_config(launcher, mode))
    fill_pool(proxy)
    assert len(shardgate_idle_backends(s1)) >= POOL // 2
    s1.restart()  # pg_ctl stop -m fast (every backend sends 57P01 and exits) + start
    outcome = run_requests(proxy, mode)
    assert_result_or_08006(outcome)
    assert outcome.get("ok", 0) == REQUESTS, f"the shard was up again for every request: {outcome}"


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_idle_backends_terminated(start_proxy, launcher, shards, mode):
    s1 = shards["s1"]
    proxy = start_proxy(mode_config(launcher, mode))
    fill_pool(proxy)
    pids = shardgate_idle_backends(s1)
    assert len(pids) >= POOL // 2
    before = tenant_queries(proxy)
    s1.sql("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    outcome = run_requests(proxy, mode)
    assert outcome == {"ok": REQUESTS}, outcome
    # a request sent again on a fresh connection counts once (query counter and rate)
    assert tenant_queries(proxy) - before == REQUESTS, proxy.log()[-3000:]


def tenant_queries(proxy) -> int:
    return sum(int(r["queries"]) for r in admin_rows(proxy, "SHOW TENANTS") if r["tenant"] in TENANTS)


def test_shard_down_answers_08006_fast(start_proxy, launcher, shards):
    s1 = shards["s1"]
    proxy = start_proxy(mode_config(launcher, "transaction"))
    fill_pool(proxy)
    conn = proxy.connect(tenant="acme")
    s1.stop()
    try:
        for _ in range(5):
            started = time.monotonic()
            with pytest.raises(psycopg.Error) as err:
                conn.execute("SELECT count(*) FROM items")
            assert err.value.sqlstate == "08006", err.value
            assert time.monotonic() - started < 1.0
            assert not conn.closed
    finally:
        s1.start()
        conn.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            with proxy.connect(tenant="acme") as c:
                assert c.execute("SELECT count(*) FROM items").fetchone()[0] >= 1
            break
        except psycopg.Error:
            assert time.monotonic() < deadline, "s1 not served again 10 s after it came back"
            time.sleep(0.2)


def test_idle_watch_drops_terminated_backends_at_once(start_proxy, launcher, shards):
    """Connections idle past a maintenance tick are watched: with no client traffic after
    pg_terminate_backend, the watch (not the next one-second tick, nor the check at checkout)
    drops every dead connection within 0.4 s."""
    s1 = shards["s1"]
    proxy = start_proxy(mode_config(launcher, "transaction"))
    fill_pool(proxy)
    time.sleep(1.2)  # one maintenance tick: every idle connection is watched now
    pids = {str(p) for p in shardgate_idle_backends(s1)}
    assert len(pids) >= POOL // 2
    listed = {s["pid"] for s in admin_rows(proxy, "SHOW SERVERS")}
    assert pids <= listed, (pids, listed)
    s1.sql("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
           ([int(p) for p in pids],))
    began = time.monotonic()
    while True:
        left = pids & {s["pid"] for s in admin_rows(proxy, "SHOW SERVERS")}
        if not left or time.monotonic() - began > 0.4:
            break
        time.sleep(0.02)
    assert not left, f"dead idle connections still pooled after 0.4 s: {sorted(left)}"


def test_request_sent_again_counts_once(start_proxy, launcher, shards):
    """A connection the server closed moments after it came back to the pool (inside the
    window where a transaction-mode checkout does not peek) is met by the request, which is
    sent again on a fresh connection: the client gets its result, and the tenant's query
    counter (and rate) count it once."""
    s1 = shards["s1"]
    config = txn_config(launcher, pool_size=1, pool_mode="transaction", pool_timeout="3s")
    proxy = start_proxy(config)
    with proxy.connect(tenant="acme") as conn, s1.connect() as direct:
        direct.autocommit = True
        for attempt in range(5):
            before = tenant_queries(proxy)
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            direct.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(200):  # until the backend is gone (its timeout form sleeps 100 ms)
                if direct.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                  (pid,)).fetchone()[0] == 0:
                    break
                time.sleep(0.002)
            assert conn.execute("SELECT %s::int + 1", (41,)).fetchone()[0] == 42  # extended
            assert tenant_queries(proxy) - before == 2, (attempt, proxy.log()[-2000:])
            if proxy.log().count("request sent again") > 0:
                break
        else:
            pytest.fail("no request met the closed connection: " + proxy.log()[-2000:])
