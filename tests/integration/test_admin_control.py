"""PAUSE/RESUME, RELOAD (and SIGHUP), SHUTDOWN and the TCP admin listener, with real clients
running while the operator acts."""
import json
import signal
import threading
import time
from pathlib import Path

import psycopg
import pytest

import pgshards
from admin_helpers import admin_error, admin_ok, admin_psql, admin_rows, rate_refusals
from proxyctl import directory_for

TXN = {"pool": "shared", "pool_size": 10, "pool_mode": "transaction"}


class Background:
    """Runs one query on its own connection in a thread; records result or error and when."""

    def __init__(self, proxy, tenant: str, sql: str = "SELECT 1"):
        self.conn = proxy.connect(tenant=tenant)
        self.conn.execute("SELECT 1")  # connected and routed before the pause matters
        self.sql, self.result, self.error, self.done_at = sql, None, None, None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = self.conn.execute(self.sql).fetchone()
        except psycopg.Error as e:
            self.error = e
        self.done_at = time.monotonic()

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout: float = 10):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "query still waiting"
        self.conn.close()


@pytest.fixture
def txn_proxy(start_proxy, launcher):
    config = launcher.config(tiers={"default": dict(TXN)})
    return start_proxy(config, directory_for({"acme": "s1", "initech": "s1", "globex": "s2"}))


def state_of(proxy, tenant: str) -> str:
    return admin_rows(proxy, f"SHOW TENANT {tenant}")[0]["state"]


def test_pause_waits_for_in_flight_then_holds_new_transactions(txn_proxy):
    proxy = txn_proxy
    with proxy.connect(tenant="acme", autocommit=False) as busy:
        busy.execute("SELECT 1")  # a transaction is open: in flight
        # PAUSE cannot finish while it runs: after its TIMEOUT nothing stays paused.
        err = admin_error(proxy, "PAUSE TENANT acme TIMEOUT 300ms")
        assert "timed out" in err and "1 transaction(s) still in flight" in err
        assert state_of(proxy, "acme") == "active"
        busy.execute("SELECT 2")  # the open transaction was never disturbed
        busy.commit()

        busy.execute("SELECT 3")  # a new transaction; PAUSE must wait for it
        waiter = Background(proxy, "acme")  # connected before the pause
        other = Background(proxy, "globex")
        pause = threading.Thread(target=lambda: results.append(
            admin_psql(proxy, "PAUSE TENANT acme TIMEOUT 10s")))
        results = []
        pause.start()
        deadline = time.monotonic() + 5
        while state_of(proxy, "acme") != "paused" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state_of(proxy, "acme") == "paused"
        waiter.start()
        other.start()
        other.join()  # another tenant runs while acme is paused
        assert other.result == (1,)
        time.sleep(0.2)
        assert pause.is_alive(), "PAUSE returned while a transaction was in flight"
        assert waiter.done_at is None, "a new acme transaction ran while paused"
        busy.commit()  # the in-flight transaction ends: PAUSE returns
        pause.join(5)
        assert results and results[0].returncode == 0, results
        time.sleep(0.3)
        assert waiter.done_at is None, "the paused tenant's query ran before RESUME"
        resumed_at = time.monotonic()
        admin_ok(proxy, "RESUME TENANT acme")
        waiter.join()
        assert waiter.result == (1,) and waiter.done_at >= resumed_at
        assert state_of(proxy, "acme") == "active"


def test_waiting_past_pause_timeout_gets_57P03(start_proxy, launcher):
    config = launcher.config(tiers={"default": dict(TXN, pause_timeout="300ms")})
    proxy = start_proxy(config, directory_for({"acme": "s1", "globex": "s2"}))
    admin_ok(proxy, "PAUSE TENANT acme")
    with proxy.connect(tenant="acme") as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.CannotConnectNow, match="paused"):
            conn.execute("SELECT 1")
        assert 0.25 <= time.monotonic() - started < 3
        admin_ok(proxy, "RESUME TENANT acme")
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection stayed usable


def test_pause_shard_holds_only_that_shard(txn_proxy):
    proxy = txn_proxy
    waiter = Background(proxy, "globex")
    other = Background(proxy, "acme")
    admin_ok(proxy, "PAUSE SHARD s2")
    assert {r["shard"]: r["paused"] for r in admin_rows(proxy, "SHOW SHARDS")} == \
        {"s1": "f", "s2": "t"}
    assert state_of(proxy, "globex") == "shard paused"
    waiter.start()
    other.start()
    other.join()
    time.sleep(0.3)
    assert waiter.done_at is None
    assert "already paused" in admin_error(proxy, "PAUSE SHARD s2")
    admin_ok(proxy, "RESUME SHARD s2")
    waiter.join()
    assert waiter.result == (1,)
    assert "not paused" in admin_error(proxy, "RESUME SHARD s2")
    assert "is not configured" in admin_error(proxy, "PAUSE SHARD s9")


def test_pause_in_session_mode_holds_the_next_statement(start_proxy, launcher):
    config = launcher.config()  # session mode: the client keeps its server connection
    proxy = start_proxy(config, directory_for({"acme": "s1", "globex": "s2"}))
    waiter = Background(proxy, "acme")
    admin_ok(proxy, "PAUSE TENANT acme TIMEOUT 2s")  # an idle session is not in flight
    waiter.start()
    time.sleep(0.3)
    assert waiter.done_at is None
    admin_ok(proxy, "RESUME TENANT acme")
    waiter.join()
    assert waiter.result == (1,)


def write_config(proxy, config: dict) -> None:
    Path(proxy.config_path).write_text(json.dumps(config, indent=2))


def test_reload_changes_a_tier_for_connected_clients(txn_proxy):
    proxy = txn_proxy
    config = json.loads(Path(proxy.config_path).read_text())
    with proxy.connect(tenant="acme") as conn:
        for _ in range(10):
            conn.execute("SELECT 1")  # no limit yet
        config["tiers"]["default"]["rate"] = {"queries_per_second": 1, "burst": 1,
                                              "action": "reject"}
        write_config(proxy, config)
        admin_ok(proxy, "RELOAD")
        values = {r["key"]: r["value"] for r in admin_rows(proxy, "SHOW CONFIG")}
        assert values["tiers.default.rate.queries_per_second"] == "1.000"
        refused = rate_refusals(conn, 5)
        assert refused >= 3  # the connected client is under the new tier settings
        # SIGHUP does the same: the limit goes away again.
        del config["tiers"]["default"]["rate"]
        write_config(proxy, config)
        proxy.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            values = {r["key"]: r["value"] for r in admin_rows(proxy, "SHOW CONFIG")}
            if values["tiers.default.rate.queries_per_second"] == "0.000":
                break
            time.sleep(0.05)
        assert values["tiers.default.rate.queries_per_second"] == "0.000"
        for _ in range(10):
            conn.execute("SELECT 1")


def test_reload_of_a_broken_file_changes_nothing(txn_proxy):
    proxy = txn_proxy
    good = Path(proxy.config_path).read_text()
    config = json.loads(good)
    with proxy.connect(tenant="acme") as conn:
        config["tiers"]["default"]["pool_size"] = -3
        write_config(proxy, config)
        err = admin_error(proxy, "RELOAD")
        assert "RELOAD refused, configuration unchanged" in err
        assert "shardgate.yaml" in err and "pool_size" in err
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # A directory naming an unknown shard is refused too.
        Path(proxy.config_path).write_text(good)
        directory = Path(config["directory"]["file"])
        old_directory = directory.read_text()
        directory.write_text(json.dumps({"tenants": {"acme": {"shard": "s9", "tier": "default"}}}))
        err = admin_error(proxy, "RELOAD")
        assert "s9" in err and "directory.yaml" in err
        assert {r["tenant"] for r in admin_rows(proxy, "SHOW TENANTS")} == \
            {"acme", "initech", "globex"}
        assert conn.execute("SELECT 2").fetchone() == (2,)
        directory.write_text(old_directory)
    admin_ok(proxy, "RELOAD")


def test_reload_moves_a_shard_to_a_new_port(txn_proxy, shards):
    """Only the shard's address changes (same pool settings, user and database): the pools
    follow it at once, for a client connected before the reload and for a new one."""
    proxy = txn_proxy
    config = json.loads(Path(proxy.config_path).read_text())
    port = "SELECT current_setting('port')"
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute(port).fetchone() == (str(shards["s1"].port),)
        config["shards"]["s1"]["port"] = shards["s2"].port  # the same data served elsewhere
        write_config(proxy, config)
        admin_ok(proxy, "RELOAD")
        assert conn.execute(port).fetchone() == (str(shards["s2"].port),)
    with proxy.connect(tenant="acme") as conn:
        assert conn.execute(port).fetchone() == (str(shards["s2"].port),)


def test_shutdown_wait_lets_the_transaction_finish(start_proxy, launcher):
    config = launcher.config(tiers={"default": dict(TXN)})
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    with proxy.connect(tenant="acme", autocommit=False) as conn:
        conn.execute("SELECT 1")
        admin_ok(proxy, "SHUTDOWN WAIT")
        time.sleep(0.2)
        assert proxy.alive()  # waiting for the open transaction
        with pytest.raises(psycopg.OperationalError):
            proxy.connect(tenant="acme")  # no new connections
        conn.execute("SELECT 2")
        conn.commit()
    assert proxy.proc.wait(timeout=10) == 0


def test_shutdown_now_closes_clients(start_proxy, launcher):
    config = launcher.config(tiers={"default": dict(TXN)})
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    conn = proxy.connect(tenant="acme", autocommit=False)
    conn.execute("SELECT 1")
    admin_ok(proxy, "SHUTDOWN")
    assert proxy.proc.wait(timeout=10) == 0
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 2")
    conn.close()


def test_tcp_admin_needs_the_password(start_proxy, launcher):
    port = pgshards.free_port()
    config = launcher.config()
    config["admin"] = {"listen": f"127.0.0.1:{port}", "password": "s3cret-admin"}
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    ok = admin_psql(proxy, "SHOW VERSION", host="127.0.0.1", port=port,
                    extra_env={"PGPASSWORD": "s3cret-admin"})
    assert ok.returncode == 0 and "shardgate" in ok.stdout
    bad = admin_psql(proxy, "SHOW VERSION", host="127.0.0.1", port=port,
                     extra_env={"PGPASSWORD": "wrong"})
    assert bad.returncode != 0 and "password authentication failed" in bad.stderr
    # With a password set, the Unix socket asks for it too.
    assert admin_psql(proxy, "SHOW VERSION", extra_env={"PGPASSWORD": "wrong"}).returncode != 0
    assert admin_psql(proxy, "SHOW VERSION",
                      extra_env={"PGPASSWORD": "s3cret-admin"}).returncode == 0
