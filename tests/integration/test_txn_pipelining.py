"""Pipelining (tier pipeline_depth > 1, the default 16, transaction mode): while the pool is
exhausted, a one-statement request queues behind another request of its tenant on a busy
server connection instead of waiting for a free one (docs/pooling.md "Pipelining").

Config: one tier `default`, pool: shared, pool_mode: transaction, pipeline_depth 4 or the
default (stated per test); pool_size 1 or 2 so the pool is exhausted and requests do queue.
acme and initech live on s1, globex on s2. Every test checks answers byte for byte against
what each client asked, and SHOW POOLS' `pipelined` count shows requests really queued (the
feature is not silently off).

- Many clients of two tenants, simple protocol, some statements failing (division by zero):
  each client gets exactly its own answers and its own errors, in order.
- Fair queuing first: a request does not queue on a busy connection ahead of another
  tenant's client waiting for the pool.
- Extended protocol with named statements (prepared on demand on whichever connection the
  request queues on): right answers, and the same with depth 1 gives the same answers.
- Order and hand-down: with pool_size 1, a slow head (pg_sleep) and requests sent right behind
  it: the queued ones answer after the head, each its own; a queued client that vanishes and
  a head whose client vanishes do not disturb the others (no cancel reaches their statements);
  the one connection is reusable afterwards.
- A tenant that ran a statement of 100 ms or more does not pipeline for the next 10 s (its
  requests wait for the connection instead); another tenant on the same pool still does.
- A large row (300 kB, above the 64 kB buffering limit) in a queued request's path streams
  through intact.
- The server connection killed under a pipeline: every client on it gets an ERROR and stays
  usable; the pool refills.
- Depth 1 never queues: `pipelined` stays 0.
"""
import time

import pytest

from admin_helpers import admin_rows
from proxyctl import APP_PASSWORD

from txn_helpers import ext_connect, run_threads, shardgate_backends, txn_config

import pgwire


def pipelined(proxy) -> int:
    return sum(int(row["pipelined"]) for row in admin_rows(proxy, "SHOW POOLS"))


def raw_client(proxy, tenant):
    conn = pgwire.RawConnection(proxy.host, proxy.port)
    conn.startup("app", APP_PASSWORD, options=f"-c shardgate.tenant={tenant}")
    return conn


def read_result(conn):
    """(rows, sqlstate or None, status) of one simple query's answer."""
    rows, state = [], None
    while True:
        msg = conn.read_message()
        if msg.type == b"D":
            rows.append(pgwire.parse_data_row(msg.body))
        elif msg.type == b"E":
            state = pgwire.parse_error_fields(msg.body).get("C")
        elif msg.type == b"Z":
            return rows, state, msg.body.decode()


@pytest.mark.parametrize("depth", [4, None])
def test_many_clients_get_their_own_answers_and_errors(start_proxy, launcher, shards, depth):
    """pool_size 2, depth 4 and the default (16); 24 clients (16 acme on s1, 8 globex on s2:
    one pool each, so neither tenant's waiters hold the other's requests back), 150 statements
    each, run concurrently: `SELECT i, n, current_schema(), first item` or, every third,
    `SELECT n/0` (22012). 3,600 statements; each answer must be the asking client's."""
    tier = {"pipeline_depth": depth} if depth else {}
    proxy = start_proxy(txn_config(launcher, pool_size=2, pool_timeout="20s", **tier))
    problems, done = [], []

    def worker(index, tenant):
        try:
            with raw_client(proxy, tenant) as conn:
                for n in range(150):
                    if n % 3 == 0:
                        conn.send_query(f"SELECT {n}/0")
                        rows, state, status = read_result(conn)
                        if rows or state != "22012" or status != "I":
                            problems.append((index, n, rows, state, status))
                        continue
                    conn.send_query(f"SELECT {index}, {n}, current_schema(), "
                                    "(SELECT body FROM items ORDER BY id LIMIT 1)")
                    rows, state, status = read_result(conn)
                    want = [(str(index), str(n), f"tenant_{tenant}", f"{tenant} secret 1")]
                    if rows != want or state is not None or status != "I":
                        problems.append((index, n, rows, state, status))
            done.append(index)
        except Exception as e:  # noqa: BLE001 - reported below
            problems.append((index, repr(e)))

    run_threads(worker, [(i, "globex" if i % 3 == 0 else "acme") for i in range(24)])
    assert not problems, problems[:5]
    assert len(done) == 24
    assert pipelined(proxy) > 0, "the pool was exhausted the whole time, yet nothing queued"
    assert shardgate_backends(shards["s1"]) <= 2 and shardgate_backends(shards["s2"]) <= 2


def test_no_queueing_ahead_of_another_tenants_waiting_client(start_proxy, launcher):
    """pool_size 1, depth 4, acme and initech share the pool (both on s1). a (acme) sleeps
    0.4 s on the only connection; i (initech) asks next and waits in the fair queue; then b
    (acme) asks, while a's connection still takes requests to queue on. b must not queue there
    ahead of i: i is answered before b, and nothing was pipelined."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s", pipeline_depth=4))
    a, i, b = raw_client(proxy, "acme"), raw_client(proxy, "initech"), raw_client(proxy, "acme")
    try:
        assert a.query("SELECT 1") == [("1",)]
        # Within the few milliseconds a's connection takes requests to queue on.
        a.send_query("SELECT pg_sleep(0.4), 'a'")
        time.sleep(0.002)
        # The order is read from the server's clock: the two answers leave the proxy within
        # a fraction of a millisecond, closer than two reader threads can tell apart.
        i.send_query("SELECT 'i', current_schema(), clock_timestamp()::text")
        time.sleep(0.001)
        b.send_query("SELECT 'b', current_schema(), clock_timestamp()::text")
        answered = {}

        def read(name, conn):
            answered[name] = read_result(conn)

        run_threads(read, [("i", i), ("b", b)], timeout=20)
        assert read_result(a) == ([("", "a")], None, "I")
        for name, tenant in (("i", "initech"), ("b", "acme")):
            rows, state, status = answered[name]
            assert (state, status) == (None, "I") and len(rows) == 1, answered
            assert rows[0][:2] == (name, f"tenant_{tenant}"), answered
        ran_at = {name: answered[name][0][0][2] for name in answered}
        assert ran_at["i"] < ran_at["b"], f"b ran before i: {ran_at}"
        assert pipelined(proxy) == 0
    finally:
        for conn in (a, i, b):
            conn.close()


def at_once(conn, *calls):
    """Runs ExtConnection message calls (e.g. bind, execute, sync) as one socket write, as
    libpq sends a batch, and reads the answer up to ReadyForQuery."""
    parts, real = [], conn.send
    conn.send = parts.append
    try:
        for call, args in calls:
            getattr(conn, call)(*args)
    finally:
        conn.send = real
    conn.send(b"".join(parts))
    return conn.read_until_ready()


@pytest.mark.parametrize("depth", [1, 4])
def test_named_statements_on_queued_requests(start_proxy, launcher, depth):
    """pool_size 2; 16 raw extended-protocol clients of acme, each preparing its own named
    statement `s<i>` (`SELECT $1::int + <i>, current_schema()`) once and executing it 100
    times with Bind/Execute/Sync (each batch in one write, as libpq sends it): the proxy-wide
    statement is prepared on demand on whichever connection the request queues on. Every
    answer must be n + i in tenant_acme."""
    proxy = start_proxy(txn_config(launcher, pool_size=2, pool_timeout="20s",
                                   pipeline_depth=depth))
    problems = []

    def worker(index):
        try:
            with ext_connect(proxy, "acme") as conn:
                name, sql = f"s{index}", f"SELECT $1::int + {index}, current_schema()"
                first = at_once(conn, ("parse", (name, sql)), ("bind", (name, (0,))),
                                ("execute", ()), ("sync", ()))
                if first.rows != [(str(index), "tenant_acme")] or first.errors:
                    problems.append((index, "prepare", first))
                for n in range(100):
                    r = at_once(conn, ("bind", (name, (n,))), ("execute", ()), ("sync", ()))
                    if r.rows != [(str(n + index), "tenant_acme")] or r.errors or r.status != "I":
                        problems.append((index, n, r))
        except Exception as e:  # noqa: BLE001
            problems.append((index, repr(e)))

    run_threads(worker, [(i,) for i in range(16)])
    assert not problems, problems[:5]
    if depth == 1:
        assert pipelined(proxy) == 0
    else:
        assert pipelined(proxy) > 0


def test_queued_requests_answer_in_order_and_survive_a_vanishing_client(start_proxy, launcher, shards):
    """pool_size 1, depth 4. a runs `SELECT pg_sleep(0.5), 'a'`; right behind it (same
    moment) b, c and d send one-row SELECTs; c closes its socket at once. a, b and d must each
    get their own row; b and d only after a's sleep (they queued behind it, ≥ 0.3 s). Finally
    the single connection serves a new query."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s", pipeline_depth=4))
    a, b, c, d = (raw_client(proxy, "acme") for _ in range(4))
    try:
        assert a.query("SELECT 1") == [("1",)]  # the connection now carries acme's context
        started = time.monotonic()
        a.send_query("SELECT pg_sleep(0.5), 'a'")
        time.sleep(0.002)
        b.send_query("SELECT 'b', current_schema()")
        c.send_query("SELECT 'c'")
        c.close()
        d.send_query("SELECT 'd'")
        assert read_result(b) == ([("b", "tenant_acme")], None, "I")
        b_after = time.monotonic() - started
        assert read_result(d) == ([("d",)], None, "I")
        assert read_result(a) == ([("", "a")], None, "I")
        assert b_after >= 0.3, f"b answered after {b_after:.3f}s: it did not queue behind a"
        queued = pipelined(proxy)
        assert queued >= 2, f"SHOW POOLS pipelined={queued}"
        assert a.query("SELECT 'again', current_schema()") == [("again", "tenant_acme")]
        assert shardgate_backends(shards["s1"]) == 1
    finally:
        for conn in (a, b, d):
            conn.close()


def test_a_head_whose_client_vanishes_does_not_disturb_the_queued(start_proxy, launcher, shards):
    """pool_size 1, depth 4: e runs pg_sleep(0.4) and leaves; f, queued behind it, must still
    get its row with no error (the proxy reads e's answer to the end instead of cancelling,
    which would hit f's statement). The connection serves f's next query."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s", pipeline_depth=4))
    e, f = raw_client(proxy, "acme"), raw_client(proxy, "acme")
    with f:
        assert e.query("SELECT 1") == [("1",)]  # the connection now carries acme's context
        e.send_query("SELECT pg_sleep(0.4), 'e'")
        time.sleep(0.002)
        f.send_query("SELECT 'f', current_schema()")
        time.sleep(0.05)
        e.close()
        assert read_result(f) == ([("f", "tenant_acme")], None, "I")
        assert pipelined(proxy) >= 1
        assert f.query("SELECT 'again', current_schema()") == [("again", "tenant_acme")]
        assert shardgate_backends(shards["s1"]) == 1


def head_and_one_behind(tenant: str, head, behind) -> None:
    """`head` runs a 0.3 s statement; `behind` sends a short one right after it. Both must get
    their own answers (whether or not `behind` queued on the head's connection)."""
    head.send_query("SELECT pg_sleep(0.3), 'head'")
    time.sleep(0.002)
    behind.send_query("SELECT 'behind', current_schema()")
    assert read_result(behind) == ([("behind", f"tenant_{tenant}")], None, "I")
    assert read_result(head) == ([("", "head")], None, "I")


def test_a_long_statement_stops_its_tenant_pipelining_for_a_while(start_proxy, launcher):
    """pool_size 1, the default depth. acme runs one 150 ms statement (a long one: 100 ms or
    more). Then, with a slow acme head on the only connection, a second acme request sent
    right behind it does not queue there: it waits for the connection (pipelined stays 0) and
    is answered after the head. initech, whose statements were short, still queues behind its
    own slow head on the same pool (pipelined 1): the hold is the tenant's, not the pool's."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s"))
    acme = [raw_client(proxy, "acme") for _ in range(2)]
    initech = [raw_client(proxy, "initech") for _ in range(2)]
    try:
        assert acme[0].query("SELECT pg_sleep(0.15), 'long'") == [("", "long")]
        head_and_one_behind("acme", *acme)
        assert pipelined(proxy) == 0, "acme queued behind its head right after a long statement"

        assert initech[0].query("SELECT 1") == [("1",)]  # initech's context on the connection
        head_and_one_behind("initech", *initech)
        assert pipelined(proxy) == 1, "initech's request did not queue behind its head"
    finally:
        for conn in acme + initech:
            conn.close()


def queue_behind(proxy, head_sql: str, others: list[str]) -> list:
    """acme clients on a pool of 1: the first gives the connection acme's context, then runs
    head_sql; the others send theirs right behind it, so they queue on its connection."""
    clients = [raw_client(proxy, "acme") for _ in range(1 + len(others))]
    assert clients[0].query("SELECT 1") == [("1",)]
    clients[0].send_query(head_sql)
    time.sleep(0.002)
    for conn, sql in zip(clients[1:], others):
        conn.send_query(sql)
    return clients


def test_large_row_streams_through_a_queued_request(start_proxy, launcher):
    """pool_size 1, depth 4: a slow head, then a 300 kB row, then a small row, all queued at
    once: the large row passes through the pipelined path in pieces, intact."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s", pipeline_depth=4))
    a, b, c = queue_behind(proxy, "SELECT pg_sleep(0.3), 'a'",
                           ["SELECT repeat('x', 300000), 'b'", "SELECT 'c'"])
    try:
        assert read_result(a) == ([("", "a")], None, "I")
        rows, state, status = read_result(b)
        assert state is None and status == "I" and len(rows) == 1
        assert rows[0][0] == "x" * 300000 and rows[0][1] == "b"
        assert read_result(c) == ([("c",)], None, "I")
        assert pipelined(proxy) >= 2
    finally:
        for conn in (a, b, c):
            conn.close()


def test_killed_server_connection_fails_every_queued_request_and_pool_refills(start_proxy, launcher, shards):
    """pool_size 1, depth 4: a sleeps 5 s, b and c queue behind; the shard's backend is
    terminated. a, b and c each get an ERROR and ReadyForQuery (not a dropped connection),
    and their next query works on a fresh server connection."""
    proxy = start_proxy(txn_config(launcher, pool_size=1, pool_timeout="20s", pipeline_depth=4))
    s1 = shards["s1"]
    a, b, c = queue_behind(proxy, "SELECT pg_sleep(5), 'a'", ["SELECT 'b'", "SELECT 'c'"])
    try:
        time.sleep(0.3)
        killed = s1.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE usename = 'shardgate' AND query LIKE 'SELECT pg_sleep(5)%'")
        assert killed == 1
        for conn in (a, b, c):
            rows, state, status = read_result(conn)
            assert state is not None and status == "I", (rows, state, status)
        assert pipelined(proxy) >= 2
        for name, conn in (("a", a), ("b", b), ("c", c)):
            assert conn.query(f"SELECT '{name}', current_schema()") == [(name, "tenant_acme")]
    finally:
        for conn in (a, b, c):
            conn.close()
