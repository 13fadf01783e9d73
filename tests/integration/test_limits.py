"""Per-tenant limits (SPEC.md "Limits", issue 5): token-bucket rate limits in reject and
throttle mode, per-tenant isolation, directory overrides, live reload, the client-connection
quota, and what counts as one query (a simple Query message once, an extended batch once per
Execute).

Every load loop here is bounded both in count and in time.
"""
from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD, TENANT_SHARDS, directory_for, write_json_yaml
from txn_helpers import ext_connect

RATE_LIMITED = "53400"
TOO_MANY_CONNECTIONS = "53300"


# --- helpers --------------------------------------------------------------------------------------
def limits_config(launcher, rate: dict | None = None, max_clients: int | None = None,
                  pool_mode: str = "session") -> dict:
    config = launcher.config()
    tier = {"pool": "shared", "pool_size": 20, "pool_mode": pool_mode}
    if pool_mode == "transaction":
        tier["pool_timeout"] = "5s"
    if rate is not None:
        tier["rate"] = rate
    if max_clients is not None:
        tier["max_client_connections"] = max_clients
    config["tiers"] = {"default": tier}
    return config


def directory(**overrides) -> dict:
    """The default directory with per-tenant keys merged in: directory(acme={"rate": {...}})."""
    d = directory_for(TENANT_SHARDS)
    for tenant, extra in overrides.items():
        d["tenants"][tenant].update(extra)
    return d


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None)


def directory_path(proxy):
    return proxy.dir / "directory.yaml"


def raw_connect(proxy, tenant: str) -> pgwire.RawConnection:
    conn = pgwire.RawConnection(proxy.host, proxy.port)
    conn.startup("app", APP_PASSWORD, options=f"-c shardgate.tenant={tenant}")
    return conn


# --- reject mode ----------------------------------------------------------------------------------
REJECT_5 = {"queries_per_second": 5, "burst": 3, "action": "reject"}


def test_reject_simple_protocol_then_goes_on(start_proxy, launcher):
    proxy = start_proxy(limits_config(launcher, rate=REJECT_5))
    with raw_connect(proxy, "acme") as conn:
        for i in range(3):
            assert conn.query(f"SELECT {i}") == [(str(i),)]
        with pytest.raises(pgwire.ServerError) as info:
            conn.query("SELECT 'over'")
        assert info.value.sqlstate == RATE_LIMITED, str(info.value)
        assert info.value.severity == "ERROR"
        assert info.value.message == 'tenant "acme" exceeded 5 queries per second'
        time.sleep(0.45)  # 5/s: two tokens back
        assert conn.query("SELECT 42") == [("42",)]
        assert conn.query("SELECT current_schema()") == [("tenant_acme",)]


def test_reject_psycopg_extended_protocol_then_goes_on(start_proxy, launcher):
    proxy = start_proxy(limits_config(launcher, rate=REJECT_5))
    with proxy.connect(tenant="acme") as conn:
        got, errors = [], []
        for i in range(6):  # bounded: the bucket holds 3
            try:
                got.append(conn.execute("SELECT %s::int", (i,)).fetchone()[0])
            except psycopg.Error as exc:
                errors.append(exc)
        assert got == [0, 1, 2]
        assert [sqlstate(e) for e in errors] == [RATE_LIMITED] * 3, errors
        assert 'tenant "acme" exceeded 5 queries per second' in str(errors[0])
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        time.sleep(0.45)
        assert conn.execute("SELECT %s::text || current_schema()", ("ok:",)).fetchone()[0] == \
            "ok:tenant_acme"


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
def test_reject_raw_extended_batch_error_in_place_of_execute(start_proxy, launcher, pool_mode):
    """burst 2: in one Parse/Bind/Execute x3/Sync batch the third Execute is refused; its
    ErrorResponse stands where its CommandComplete would, and ReadyForQuery ends the batch."""
    rate = {"queries_per_second": 1, "burst": 2, "action": "reject"}
    proxy = start_proxy(limits_config(launcher, rate=rate, pool_mode=pool_mode))
    with ext_connect(proxy, "acme") as conn:
        conn.parse("s", "SELECT $1::int")
        for i in range(3):
            conn.bind("s", (i,))
            conn.execute()
        conn.sync()
        res = conn.read_until_ready()
        assert res.types == [b"1", b"2", b"D", b"C", b"2", b"D", b"C", b"2", b"E", b"Z"], res
        assert res.rows == [("0",), ("1",)]
        assert res.sqlstates == [RATE_LIMITED]
        assert res.errors[0].message == 'tenant "acme" exceeded 1 queries per second'
        assert res.status == "I"
        # The client's named statement survived, and the connection is usable once a token is back.
        time.sleep(1.1)
        res = conn.run_named("s", (7,))
        assert res.errors == [] and res.rows == [("7",)] and res.status == "I", res


# --- what counts as one query ---------------------------------------------------------------------
def test_simple_query_message_with_two_statements_counts_once(start_proxy, launcher):
    rate = {"queries_per_second": 1, "burst": 2, "action": "reject"}
    proxy = start_proxy(limits_config(launcher, rate=rate))
    with ext_connect(proxy, "acme") as conn:
        for _ in range(2):
            res = conn.simple("SELECT 1; SELECT 2")
            assert res.errors == [] and res.rows == [("1",), ("2",)], res
        res = conn.simple("SELECT 3")
        assert res.sqlstates == [RATE_LIMITED], res
        assert res.status == "I"


def test_extended_batch_counts_once_per_execute(start_proxy, launcher):
    rate = {"queries_per_second": 1, "burst": 3, "action": "reject"}
    proxy = start_proxy(limits_config(launcher, rate=rate))
    with ext_connect(proxy, "acme") as conn:
        conn.parse("", "SELECT $1::int")
        for i in range(3):
            conn.bind("", (i,))
            conn.execute()
        conn.sync()
        res = conn.read_until_ready()
        assert res.errors == [] and res.rows == [("0",), ("1",), ("2",)], res
        # 3 tokens spent by one batch: the next query is refused.
        res = conn.simple("SELECT 4")
        assert res.sqlstates == [RATE_LIMITED], res


# --- throttle mode --------------------------------------------------------------------------------
def test_throttle_delays_without_errors_and_holds_the_rate(start_proxy, launcher):
    rate = {"queries_per_second": 20, "burst": 5, "action": "throttle", "max_delay": "2s"}
    proxy = start_proxy(limits_config(launcher, rate=rate))
    conns = [proxy.connect(tenant="acme") for _ in range(2)]
    errors: list[BaseException] = []
    counts = [0, 0]
    start = threading.Barrier(3)

    def run(idx: int) -> None:
        start.wait(timeout=10)
        deadline = time.monotonic() + 15
        for _ in range(30):
            if time.monotonic() > deadline:
                break
            try:
                conns[idx].execute("SELECT 1").fetchone()
                counts[idx] += 1
            except Exception as exc:  # noqa: BLE001 - any error fails the test
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        start.wait(timeout=10)
        began = time.monotonic()
        for t in threads:
            t.join(timeout=30)
        elapsed = time.monotonic() - began
    finally:
        for c in conns:
            c.close()
    assert errors == []
    assert sum(counts) == 60
    expected = (60 - 5) / 20
    assert expected * 0.75 <= elapsed <= expected * 1.25, f"60 queries took {elapsed:.2f}s, " \
        f"expected {expected:.2f}s +-25%"


def test_throttle_rejects_past_max_delay(start_proxy, launcher):
    """rate 2/s burst 1 max_delay 0.6s, six clients at once: one runs, one waits 0.5s, the rest
    would wait longer than max_delay and are refused with 53400."""
    rate = {"queries_per_second": 2, "burst": 1, "action": "throttle", "max_delay": "600ms"}
    proxy = start_proxy(limits_config(launcher, rate=rate))
    conns = [proxy.connect(tenant="acme") for _ in range(6)]
    outcome: list[str] = []
    start = threading.Barrier(6)

    def run(conn) -> None:
        start.wait(timeout=10)
        try:
            conn.execute("SELECT 1")
            outcome.append("ok")
        except psycopg.Error as exc:
            outcome.append(sqlstate(exc) or type(exc).__name__)

    threads = [threading.Thread(target=run, args=(c,)) for c in conns]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    finally:
        for c in conns:
            c.close()
    assert len(outcome) == 6
    assert set(outcome) <= {"ok", RATE_LIMITED}, outcome
    assert outcome.count("ok") == 2, outcome


# --- per tenant, not global ------------------------------------------------------------------------
def test_limits_are_per_tenant(start_proxy, launcher):
    rate = {"queries_per_second": 10, "burst": 10, "action": "reject"}
    proxy = start_proxy(limits_config(launcher, rate=rate))
    noisy = [proxy.connect(tenant="acme") for _ in range(2)]
    quiet = proxy.connect(tenant="initech")   # same shard, same tier
    other = proxy.connect(tenant="globex")
    stop = threading.Event()
    noisy_stats = {"ok": 0, "limited": 0, "other": []}
    lock = threading.Lock()

    def flood(conn) -> None:
        deadline = time.monotonic() + 10
        for _ in range(20000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                conn.execute("SELECT 1")
                key = "ok"
            except psycopg.Error as exc:
                key = "limited" if sqlstate(exc) == RATE_LIMITED else None
                if key is None:
                    noisy_stats["other"].append(exc)
                    return
            with lock:
                noisy_stats[key] += 1

    threads = [threading.Thread(target=flood, args=(c,)) for c in noisy]
    try:
        for t in threads:
            t.start()
        wait_until = time.monotonic() + 5
        while noisy_stats["limited"] < 20 and time.monotonic() < wait_until:
            time.sleep(0.02)
        assert noisy_stats["limited"] >= 20, noisy_stats  # acme is saturated
        for conn, tenant in ((quiet, "initech"), (other, "globex")):
            latencies = []
            for i in range(10):  # within the tenant's own burst
                began = time.monotonic()
                assert conn.execute("SELECT current_schema()").fetchone()[0] == f"tenant_{tenant}"
                latencies.append(time.monotonic() - began)
            assert max(latencies) < 0.25, (tenant, latencies)
        limited_before = noisy_stats["limited"]
        time.sleep(0.2)
        assert noisy_stats["limited"] > limited_before  # acme was still being refused meanwhile
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        for c in noisy + [quiet, other]:
            c.close()
    assert noisy_stats["other"] == []


# --- per-tenant override --------------------------------------------------------------------------
def test_directory_override_beats_tier(start_proxy, launcher):
    tier_rate = {"queries_per_second": 5, "burst": 50, "action": "reject"}
    d = directory(acme={"rate": {"queries_per_second": 2, "burst": 2}},
                  globex={"rate": {"burst": 1}})   # keys not given keep the tier's values
    proxy = start_proxy(limits_config(launcher, rate=tier_rate), d)
    with raw_connect(proxy, "acme") as acme, raw_connect(proxy, "globex") as globex, \
            raw_connect(proxy, "initech") as initech:
        for _ in range(2):
            acme.query("SELECT 1")
        with pytest.raises(pgwire.ServerError) as info:
            acme.query("SELECT 1")
        assert info.value.sqlstate == RATE_LIMITED
        assert info.value.message == 'tenant "acme" exceeded 2 queries per second'

        globex.query("SELECT 1")
        with pytest.raises(pgwire.ServerError) as info:
            globex.query("SELECT 1")
        assert info.value.sqlstate == RATE_LIMITED
        assert info.value.message == 'tenant "globex" exceeded 5 queries per second'

        for i in range(20):  # the tier's burst of 50
            assert initech.query(f"SELECT {i}") == [(str(i),)]


# --- reload ----------------------------------------------------------------------------------------
def test_reload_changes_rate_on_the_same_connection(start_proxy, launcher):
    loose = {"queries_per_second": 1000, "burst": 1000, "action": "reject"}
    proxy = start_proxy(limits_config(launcher, rate=loose))
    with raw_connect(proxy, "acme") as conn, raw_connect(proxy, "initech") as other:
        for i in range(20):
            conn.query(f"SELECT {i}")

        # 1) the directory gains an override for acme
        write_json_yaml(directory_path(proxy),
                        directory(acme={"rate": {"queries_per_second": 2, "burst": 2}}))
        proxy.reload()
        results = []
        for _ in range(4):
            try:
                conn.query("SELECT 1")
                results.append("ok")
            except pgwire.ServerError as err:
                results.append(err.sqlstate)
                assert err.message == 'tenant "acme" exceeded 2 queries per second'
        assert results == ["ok", "ok", RATE_LIMITED, RATE_LIMITED]
        for i in range(10):
            other.query("SELECT 1")   # initech still has the tier's limit

        # 2) the override goes, and the tier itself tightens in the config file
        write_json_yaml(directory_path(proxy), directory())
        config = json.loads(proxy.config_path.read_text())
        config["tiers"]["default"]["rate"] = {"queries_per_second": 3, "burst": 1,
                                             "action": "reject"}
        write_json_yaml(proxy.config_path, config)
        time.sleep(0.4)
        proxy.reload()
        time.sleep(0.4)
        for c, tenant in ((conn, "acme"), (other, "initech")):
            c.query("SELECT 1")
            with pytest.raises(pgwire.ServerError) as info:
                c.query("SELECT 1")
            assert info.value.message == f'tenant "{tenant}" exceeded 3 queries per second'

        # 3) and loosens again: the same connections run freely
        config["tiers"]["default"]["rate"] = loose
        write_json_yaml(proxy.config_path, config)
        proxy.reload()
        time.sleep(0.4)
        for i in range(20):
            assert conn.query(f"SELECT {i}") == [(str(i),)]


# --- client-connection quota ----------------------------------------------------------------------
def connect_when_slot_frees(proxy, tenant: str, within: float = 5.0):
    """Connects once a just-closed client's slot is free again (bounded retry)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return proxy.connect(tenant=tenant)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_client_connection_quota(start_proxy, launcher):
    proxy = start_proxy(limits_config(launcher, max_clients=3),
                        directory(globex={"max_client_connections": 1}))
    acme = [proxy.connect(tenant="acme") for _ in range(3)]
    try:
        err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                                   options="-c shardgate.tenant=acme")
        assert err.sqlstate == TOO_MANY_CONNECTIONS and err.severity == "FATAL", str(err)
        assert 'tenant "acme"' in err.message
        with pytest.raises(psycopg.OperationalError):
            proxy.connect(tenant="acme").close()

        # other tenants still connect (initech: the tier's 3; globex: its own 1)
        initech = [proxy.connect(tenant="initech") for _ in range(3)]
        for c in initech:
            assert c.execute("SELECT current_schema()").fetchone()[0] == "tenant_initech"
        with proxy.connect(tenant="globex") as g:
            assert g.execute("SELECT 1").fetchone()[0] == 1
            err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                                       options="-c shardgate.tenant=globex")
            assert err.sqlstate == TOO_MANY_CONNECTIONS
        # its slot came back (released when the proxy reads the closed session's Terminate,
        # which can come after the next connection is accepted)
        with connect_when_slot_frees(proxy, "globex") as g:
            g.execute("SELECT 1")
        for c in initech:
            c.close()

        # the existing acme connections are unaffected; after one closes, a new one fits
        for c in acme:
            assert c.execute("SELECT 1").fetchone()[0] == 1
        acme.pop().close()
        acme.append(connect_when_slot_frees(proxy, "acme"))
        assert acme[-1].execute("SELECT current_schema()").fetchone()[0] == "tenant_acme"
        # and the refused ones did not leak slots: still exactly 3
        err = pgwire.startup_error(proxy.host, proxy.port, "app", APP_PASSWORD,
                                   options="-c shardgate.tenant=acme")
        assert err.sqlstate == TOO_MANY_CONNECTIONS
    finally:
        for c in acme:
            c.close()


def test_client_connection_quota_applies_to_tenant_switch(start_proxy, launcher):
    """A session that switches to a full tenant with SET shardgate.tenant is refused (53300)
    and keeps its current tenant."""
    proxy = start_proxy(limits_config(launcher, max_clients=1))
    with proxy.connect(tenant="acme") as a, proxy.connect(tenant="initech") as b:
        with pytest.raises(psycopg.Error) as info:
            b.execute("SET shardgate.tenant = 'acme'")
        assert sqlstate(info.value) == TOO_MANY_CONNECTIONS, info.value
        assert b.execute("SELECT current_schema()").fetchone()[0] == "tenant_initech"
        assert a.execute("SELECT current_schema()").fetchone()[0] == "tenant_acme"


@pytest.mark.parametrize("action", ["reject", "throttle"])
def test_saturated_tenant_does_not_slow_others_in_a_shared_transaction_pool(start_proxy, launcher,
                                                                            action):
    """Transaction pooling, one shared pool of 4: acme (8 clients) far over its 5/s; initech on
    the same shard and pool (its own override: unlimited) must stay fast. A refused or throttled
    statement of acme must not occupy the pool's server connections."""
    rate = {"queries_per_second": 5, "burst": 1, "action": action, "max_delay": "2s"}
    config = limits_config(launcher, rate=rate, pool_mode="transaction")
    config["tiers"]["default"]["pool_size"] = 4
    proxy = start_proxy(config, directory(initech={"rate": {"queries_per_second": 0}}))
    noisy = [proxy.connect(tenant="acme") for _ in range(8)]
    quiet = proxy.connect(tenant="initech")
    stop = threading.Event()
    noisy_errors: list[str] = []

    def flood(conn) -> None:
        deadline = time.monotonic() + 10
        for _ in range(5000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as exc:
                noisy_errors.append(sqlstate(exc) or type(exc).__name__)

    threads = [threading.Thread(target=flood, args=(c,)) for c in noisy]
    latencies = []
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        for _ in range(10):
            began = time.monotonic()
            quiet.execute("SELECT 1")
            latencies.append(time.monotonic() - began)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        for c in noisy + [quiet]:
            c.close()
    assert set(noisy_errors) <= {RATE_LIMITED}, noisy_errors
    assert max(latencies) < 0.1, f"initech latencies with acme in {action} mode: " \
        f"{[round(x, 3) for x in latencies]}"


def test_reject_does_not_wait_for_a_server_connection(start_proxy, launcher):
    """Transaction pooling, pool of 1 held by an open transaction: a statement of the same
    tenant that is over the rate is refused at once with 53400, not after pool_timeout."""
    config = limits_config(launcher, rate={"queries_per_second": 1, "burst": 1},
                           pool_mode="transaction")
    config["tiers"]["default"].update(pool_size=1, pool_timeout="2s")
    proxy = start_proxy(config)
    with proxy.connect(tenant="acme") as holder, raw_connect(proxy, "acme") as conn:
        holder.execute("BEGIN")   # takes the token and the only server connection
        began = time.monotonic()
        with pytest.raises(pgwire.ServerError) as info:
            conn.query("SELECT 1")
        took = time.monotonic() - began
        time.sleep(1.1)            # COMMIT is a query too: wait for the next token
        holder.execute("COMMIT")
    assert info.value.sqlstate == RATE_LIMITED, f"{info.value} after {took:.2f}s"
    assert took < 0.5


def test_fractional_rate_in_message(start_proxy, launcher):
    """queries_per_second accepts a number; the refusal must not print 0.5 as 0."""
    proxy = start_proxy(limits_config(launcher, rate={"queries_per_second": 0.5, "burst": 1}))
    with raw_connect(proxy, "acme") as conn:
        conn.query("SELECT 1")
        with pytest.raises(pgwire.ServerError) as info:
            conn.query("SELECT 1")
        assert info.value.sqlstate == RATE_LIMITED
        assert info.value.message == 'tenant "acme" exceeded 0.5 queries per second'
