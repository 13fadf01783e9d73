"""Online tenant moves between two real PostgreSQL 15 shards (wal_level=logical, the control
credential a superuser), driven through the admin socket with psql while clients keep using
the tenant through shardgate."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql as pgsql

import pgshards
from admin_helpers import admin_psql, admin_rows
from proxyctl import ProxyLauncher

LOGICAL = {"wal_level": "logical", "max_replication_slots": "20", "max_wal_senders": "20"}


@pytest.fixture(scope="module")
def move_shards():
    cluster = pgshards.ShardCluster()
    shards = {name: cluster.start_shard(name, server_settings=LOGICAL) for name in ("m1", "m2")}
    for shard in shards.values():
        with shard.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS public.items (id serial PRIMARY KEY, body text)")
            conn.execute("INSERT INTO public.items (body) VALUES ('public leak')")
    yield shards
    cluster.cleanup()


@pytest.fixture(scope="module")
def move_launcher(move_shards, binary):
    launcher = ProxyLauncher(move_shards, binary)
    yield launcher
    launcher.cleanup()


def provision(shard: pgshards.Shard, tenant: str, rows: int, extra_sql: str = "") -> str:
    schema = f"tenant_{tenant}"
    with shard.connect() as conn:
        conn.execute(pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(schema)))
        conn.execute(pgsql.SQL(
            "CREATE TABLE {}.items (id bigserial PRIMARY KEY, body text NOT NULL, writer int, "
            "seq int)").format(pgsql.Identifier(schema)))
        conn.execute(pgsql.SQL(
            "INSERT INTO {}.items (body) SELECT %s || ' row ' || g FROM generate_series(1, %s) g"
        ).format(pgsql.Identifier(schema)), (tenant, rows))
        if extra_sql:
            conn.execute(extra_sql.format(schema=schema))
    return schema


def start_proxy(launcher: ProxyLauncher, tenants: dict[str, str], tier: str = "txn",
                env: dict | None = None):
    config = launcher.config(tiers={
        "txn": {"pool": "shared", "pool_size": 20, "pool_mode": "transaction",
                "pause_timeout": "30s"},
        "sess": {"pool": "shared", "pool_size": 20, "pool_mode": "session"},
    })
    directory = {"tenants": {t: {"shard": s, "tier": tier, "schema": f"tenant_{t}"}
                             for t, s in tenants.items()}}
    return launcher.start(config, directory, env=env)


def replication_leftovers(shard: pgshards.Shard) -> list:
    return shard.sql(
        "SELECT 'slot ' || slot_name FROM pg_replication_slots UNION ALL "
        "SELECT 'publication ' || pubname FROM pg_publication UNION ALL "
        "SELECT 'subscription ' || subname FROM pg_subscription UNION ALL "
        "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname LIKE 'sg_move_%'")


def move_links(shard: pgshards.Shard) -> list:
    """Connections a move opened to `shard` (they say application_name 'shardgate move')."""
    return shard.sql("SELECT pid, state, query FROM pg_stat_activity "
                     "WHERE application_name = 'shardgate move'")


def schemas(shard: pgshards.Shard, tenant: str) -> list[str]:
    return [r[0] for r in shard.sql(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
        (f"tenant_{tenant}%",))]


def directory_shard(proxy, tenant: str) -> str:
    config = json.loads(Path(proxy.config_path).read_text())
    entries = yaml.safe_load(Path(config["directory"]["file"]).read_text())["tenants"]
    return entries[tenant]["shard"]


def move(proxy, tenant: str, shard: str, extra: str = "PAUSE BUDGET 5s", timeout: float = 60):
    return admin_psql(proxy, f"MOVE TENANT {tenant} TO SHARD {shard} {extra}", timeout=timeout)


def set_sync_workers(shard: pgshards.Shard, n: int) -> None:
    """With 0 table-sync workers a subscription's initial copy never starts: a move waits in
    its copy phase for as long as a test needs."""
    with shard.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET max_sync_workers_per_subscription = {n}")
        conn.execute("SELECT pg_reload_conf()")


def wait_for_phase(proxy, move_phase: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in admin_rows(proxy, "SHOW MOVES"):
            if row["phase"] == move_phase:
                return row
        time.sleep(0.1)
    raise AssertionError(f"no move reached phase {move_phase}: {admin_rows(proxy, 'SHOW MOVES')}")


class Writer(threading.Thread):
    """Inserts and updates the tenant's rows through shardgate, recording what was acknowledged."""

    def __init__(self, proxy, tenant: str, number: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.proxy, self.tenant, self.number, self.stop = proxy, tenant, number, stop
        self.acked_inserts: dict[int, int] = {}   # seq -> id
        self.acked_updates: dict[int, str] = {}   # id -> body last acknowledged
        self.uncertain: set[int] = set()           # seqs / ids whose outcome is unknown
        self.errors: list[str] = []
        self.samples: list[tuple[float, float]] = []  # (start, seconds) of each statement

    def run(self) -> None:
        conn = self.proxy.connect(tenant=self.tenant)
        seq = 0
        while not self.stop.is_set():
            seq += 1
            started = time.monotonic()
            try:
                if seq % 4 == 0 and self.acked_inserts:
                    target = self.acked_inserts[max(1, seq - 3)] if seq - 3 in self.acked_inserts \
                        else next(iter(self.acked_inserts.values()))
                    body = f"{self.tenant} update {self.number}-{seq}"
                    self.uncertain.add(target)
                    conn.execute("UPDATE items SET body = %s WHERE id = %s", (body, target))
                    self.uncertain.discard(target)
                    self.acked_updates[target] = body
                else:
                    self.uncertain.add(-seq)
                    row = conn.execute(
                        "INSERT INTO items (body, writer, seq) VALUES (%s, %s, %s) RETURNING id",
                        (f"{self.tenant} write {self.number}-{seq}", self.number, seq)).fetchone()
                    self.uncertain.discard(-seq)
                    self.acked_inserts[seq] = row[0]
                self.samples.append((started, time.monotonic() - started))
            except psycopg.Error as exc:
                self.errors.append(f"{exc.sqlstate}: {exc}")
                conn.close()
                conn = self.proxy.connect(tenant=self.tenant)
        conn.close()


class Reader(threading.Thread):
    def __init__(self, proxy, tenant: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.proxy, self.tenant, self.stop = proxy, tenant, stop
        self.foreign: list[str] = []
        self.reads = 0

    def run(self) -> None:
        with self.proxy.connect(tenant=self.tenant) as conn:
            while not self.stop.is_set():
                for (body,) in conn.execute("SELECT body FROM items ORDER BY id DESC LIMIT 20"):
                    if not body.startswith(self.tenant + " "):
                        self.foreign.append(body)
                self.reads += 1


def write_problems(shard: pgshards.Shard, tenant: str, writers: list[Writer],
                   copied_rows: int) -> list[str]:
    """What is wrong with the tenant's rows on `shard` after writers ran through a move:
    an acknowledged insert missing, an unacknowledged one present, an acknowledged update
    not the row's value, a (writer, seq) twice, or rows of the initial copy lost."""
    problems = []
    rows = {(w, s) for w, s in shard.sql(
        f"SELECT writer, seq FROM tenant_{tenant}.items WHERE writer IS NOT NULL")}
    for w in writers:
        problems += [f"acknowledged insert {w.number}-{seq} lost"
                     for seq in w.acked_inserts if (w.number, seq) not in rows]
        problems += [f"unacknowledged insert {key} is there" for key in rows
                     if key[0] == w.number and key[1] not in w.acked_inserts
                     and -key[1] not in w.uncertain]
        bodies = dict(shard.sql(f"SELECT id, body FROM tenant_{tenant}.items WHERE id = ANY(%s)",
                                (list(w.acked_updates),)))
        problems += [f"acknowledged update of row {ident} not there: {bodies.get(ident)!r}"
                     for ident in w.acked_updates if ident not in w.uncertain
                     and not (bodies.get(ident) or "").startswith(f"{tenant} update {w.number}-")]
    twice = shard.scalar(f"SELECT count(*) - count(DISTINCT (writer, seq)) FROM "
                         f"tenant_{tenant}.items WHERE writer IS NOT NULL")
    if twice:
        problems.append(f"{twice} insert(s) there more than once")
    copied = shard.scalar(f"SELECT count(*) FROM tenant_{tenant}.items WHERE writer IS NULL")
    if copied != copied_rows:
        problems.append(f"{copied} rows of the initial {copied_rows} there")
    return problems[:20]


def test_online_move_under_writers_keeps_every_acknowledged_write(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvw"
    provision(m1, tenant, 30000)
    provision(m2, "mvother", 5)
    proxy = start_proxy(move_launcher, {tenant: "m1", "mvother": "m2"})
    # The leak the readers guard against is real: the shards hold other rows under the same
    # table name.
    assert m2.scalar("SELECT count(*) FROM public.items") >= 1

    stop = threading.Event()
    writers = [Writer(proxy, tenant, n, stop) for n in range(4)]
    reader = Reader(proxy, tenant, stop)
    for t in [*writers, reader]:
        t.start()
    time.sleep(0.5)
    result = move(proxy, tenant, "m2", "PAUSE BUDGET 5s")
    time.sleep(0.5)
    stop.set()
    for t in [*writers, reader]:
        t.join(30)
    assert result.returncode == 0, result.stderr
    assert "NOTICE:  move" in result.stderr
    # Verified before the cutover, at a point of its own; the cutover's pause holds no count.
    lines = result.stderr.splitlines()
    point = next(i for i, line in enumerate(lines) if "verification point: paused" in line)
    compared = next(i for i, line in enumerate(lines) if "verify: source" in line)
    cutover = next(line for line in lines if "cutover done: paused" in line)
    assert point < compared < lines.index(cutover) and "verify" not in cutover, result.stderr
    header, row = result.stdout.strip().splitlines()[:2]
    assert header.split("|")[:4] == ["move", "tenant", "from", "to"]
    move_id = row.split("|")[0]

    assert directory_shard(proxy, tenant) == "m2"
    assert schemas(m1, tenant) == [f"tenant_{tenant}__moved_{move_id}"]
    assert schemas(m2, tenant) == [f"tenant_{tenant}"]
    assert replication_leftovers(m1) == [] and replication_leftovers(m2) == []
    assert reader.reads > 0 and reader.foreign == []

    assert sum(len(w.acked_inserts) for w in writers) > 50
    assert write_problems(m2, tenant, writers, 30000) == []
    # Sequences came along: a new row gets an id above every copied one.
    with proxy.connect(tenant=tenant) as conn:
        new_id = conn.execute("INSERT INTO items (body) VALUES ('mvw after') RETURNING id").fetchone()[0]
    assert new_id > m2.scalar(f"SELECT max(id) FROM tenant_{tenant}.items WHERE id <> %s", (new_id,))
    errors = [e for w in writers for e in w.errors]
    assert errors == [], errors[:5]
    moves = admin_rows(proxy, "SHOW MOVES")
    assert [m["phase"] for m in moves] == ["done"]
    # A finished move keeps no connection to either shard.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (move_links(m1) or move_links(m2)):
        time.sleep(0.1)
    assert move_links(m1) == [] and move_links(m2) == []


def test_table_without_replica_identity_is_refused_before_anything_exists(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvn"
    provision(m1, tenant, 10, "CREATE TABLE {schema}.audit (at timestamptz, what text)")
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    result = move(proxy, tenant, "m2")
    assert result.returncode != 0
    assert "55000" in result.stderr or "replica identity" in result.stderr, result.stderr
    assert f"tenant_{tenant}.audit" in result.stderr
    assert schemas(m2, tenant) == [] and schemas(m1, tenant) == [f"tenant_{tenant}"]
    assert replication_leftovers(m1) == [] and replication_leftovers(m2) == []
    assert directory_shard(proxy, tenant) == "m1"
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]


def test_move_refusals(move_shards, move_launcher):
    provision(move_shards["m1"], "mvr", 1)
    proxy = start_proxy(move_launcher, {"mvr": "m1"})
    assert 'shard "nowhere" is not configured' in move(proxy, "mvr", "nowhere").stderr
    assert "is already on shard" in move(proxy, "mvr", "m1").stderr
    assert "not in the shard directory" in move(proxy, "nobody", "m2").stderr


def restart_after_kill(launcher: ProxyLauncher, killed, expect: str = "rolled_back"):
    """Starts a proxy on the killed one's config and waits until its move journal's
    recovery has finished every move it found, with the phase `expect`."""
    restarted = launcher.start(json.loads(Path(killed.config_path).read_text()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        phases = [m["phase"] for m in admin_rows(restarted, "SHOW MOVES")]
        if phases and all(p in ("rolled_back", "done") for p in phases):
            break
        time.sleep(0.2)
    assert phases == [expect], admin_rows(restarted, "SHOW MOVES")
    return restarted


def assert_rolled_back(proxy, source: pgshards.Shard, target: pgshards.Shard, tenant: str):
    """The tenant lives on the source as before the move, and neither shard keeps anything
    of it: no slot, publication or subscription, no schema on the target."""
    assert directory_shard(proxy, tenant) == source.name
    assert replication_leftovers(source) == [] and replication_leftovers(target) == []
    assert schemas(target, tenant) == [] and schemas(source, tenant) == [f"tenant_{tenant}"]


def test_cancel_move_leaves_nothing_on_either_shard(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvc"
    provision(m1, tenant, 1000)
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    set_sync_workers(m2, 0)
    try:
        mover = threading.Thread(target=lambda: setattr(mover, "result", move(proxy, tenant, "m2")))
        mover.start()
        row = wait_for_phase(proxy, "copy")
        time.sleep(0.3)  # the subscription exists by now
        assert replication_leftovers(m2) != []  # the move really had created things
        cancel = admin_psql(proxy, f"CANCEL MOVE {row['id']}")
        assert cancel.returncode == 0, cancel.stderr
        mover.join(30)
    finally:
        set_sync_workers(m2, 2)
    assert mover.result.returncode != 0 and "cancelled" in mover.result.stderr
    assert_rolled_back(proxy, m1, m2, tenant)
    with proxy.connect(tenant=tenant) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1000


def test_kill_mid_move_then_restart_rolls_back(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvk"
    provision(m1, tenant, 1000)
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    set_sync_workers(m2, 0)
    try:
        mover = threading.Thread(target=lambda: move(proxy, tenant, "m2"), daemon=True)
        mover.start()
        wait_for_phase(proxy, "copy")
        time.sleep(0.3)
        assert replication_leftovers(m1) != []
        proxy.kill()
        mover.join(30)
    finally:
        set_sync_workers(m2, 2)
    restarted = restart_after_kill(move_launcher, proxy)
    assert_rolled_back(restarted, m1, m2, tenant)
    with restarted.connect(tenant=tenant) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1000


def test_kill_during_cutover_then_restart_rolls_back_and_unfences(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvq"
    provision(m1, tenant, 500)
    # The move waits 3 s once it has journaled phase cutover (a test-only failpoint, before
    # the pause): time to open a transaction of the tenant, which then holds the cutover at
    # its drain step (an earlier one would hold the verification point's).
    proxy = start_proxy(move_launcher, {tenant: "m1"},
                        env={"SHARDGATE_MOVE_FAILPOINT": "cutover=sleep:3000"})
    mover = threading.Thread(target=lambda: move(proxy, tenant, "m2", "PAUSE BUDGET 60s"),
                             daemon=True)
    mover.start()
    wait_for_phase(proxy, "cutover")
    holder = proxy.connect(tenant=tenant, autocommit=False)
    holder.execute("SELECT count(*) FROM items")
    deadline = time.monotonic() + 30
    while ("cutover: paused, waiting for 1 transaction" not in proxy.log_path.read_text()
           and time.monotonic() < deadline):
        time.sleep(0.1)
    assert "cutover: paused, waiting for 1 transaction" in proxy.log_path.read_text()
    proxy.kill()
    mover.join(30)
    holder.close()
    restarted = restart_after_kill(move_launcher, proxy)
    assert_rolled_back(restarted, m1, m2, tenant)
    with restarted.connect(tenant=tenant) as conn:
        conn.execute("INSERT INTO items (body) VALUES ('mvq after')")
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 501


def test_transaction_client_follows_and_session_client_is_told_to_reconnect(move_shards,
                                                                             move_launcher):
    m1 = move_shards["m1"]
    provision(m1, "mvt", 100)
    provision(m1, "mvs", 100)
    proxy = start_proxy(move_launcher, {"mvt": "m1"})
    txn = proxy.connect(tenant="mvt")
    for _ in range(6):  # past psycopg's prepare threshold: a server-side prepared statement
        assert txn.execute("SELECT count(*) FROM items WHERE id > %s", (0,)).fetchone()[0] == 100
    result = move(proxy, "mvt", "m2")
    assert result.returncode == 0, result.stderr
    assert txn.execute("SELECT count(*) FROM items WHERE id > %s", (0,)).fetchone()[0] == 100
    txn.execute("INSERT INTO items (body) VALUES ('mvt after')")
    assert move_shards["m2"].scalar("SELECT count(*) FROM tenant_mvt.items") == 101
    txn.close()

    proxy2 = start_proxy(move_launcher, {"mvs": "m1"}, tier="sess")
    sess = proxy2.connect(tenant="mvs")
    assert sess.execute("SELECT count(*) FROM items").fetchone()[0] == 100
    result = move(proxy2, "mvs", "m2")
    assert result.returncode == 0, result.stderr
    with pytest.raises(psycopg.OperationalError) as ended:
        sess.execute("SELECT count(*) FROM items")
    assert "reconnect" in str(ended.value)
    with proxy2.connect(tenant="mvs") as again:
        again.execute("INSERT INTO items (body) VALUES ('mvs after')")
    assert move_shards["m2"].scalar("SELECT count(*) FROM tenant_mvs.items") == 101
