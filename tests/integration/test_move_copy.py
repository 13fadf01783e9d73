"""COPY-mode tenant moves from a source shard without wal_level=logical (started with
wal_level=replica), and the row checksums of verification, against real PostgreSQL 15 shards
driven through the admin socket while clients use the tenant through shardgate."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

import pgshards
from admin_helpers import admin_psql, admin_rows
from proxyctl import ProxyLauncher
from test_moves import directory_shard, move, replication_leftovers, schemas, start_proxy

REPLICA = {"wal_level": "replica"}


@pytest.fixture(scope="module")
def copy_shards():
    cluster = pgshards.ShardCluster()
    shards = {name: cluster.start_shard(name, server_settings=REPLICA) for name in ("c1", "c2")}
    yield shards
    cluster.cleanup()


@pytest.fixture(scope="module")
def copy_launcher(copy_shards, binary):
    launcher = ProxyLauncher(copy_shards, binary)
    yield launcher
    launcher.cleanup()


def provision(shard: pgshards.Shard, tenant: str, rows: int, extra_sql: str = "") -> str:
    """items (a sequence, bytea, timestamptz, numeric, a NULL) and events referencing it
    (copied first, by name: the foreign key must not get in the way)."""
    schema = f"tenant_{tenant}"
    with shard.connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.items (id bigserial PRIMARY KEY, body text NOT NULL, "
                     "data bytea, at timestamptz, amount numeric, note text)")
        conn.execute(f"CREATE TABLE {schema}.events (id serial PRIMARY KEY, "
                     f"item bigint REFERENCES {schema}.items, kind text)")
        conn.execute(f"INSERT INTO {schema}.items (body, data, at, amount, note) SELECT "
                     "'row ' || g, decode(md5(g::text), 'hex') || '\\x00ff'::bytea, "
                     "'2024-03-01 12:00:00.123456+05'::timestamptz + g * interval '1 minute', "
                     "g / 7.0, CASE WHEN g %% 3 = 0 THEN NULL ELSE 'n' || g END "
                     "FROM generate_series(1, %s) g", (rows,))
        conn.execute(f"INSERT INTO {schema}.events (item, kind) SELECT id, 'made' FROM "
                     f"{schema}.items WHERE id % 10 = 0")
        if extra_sql:
            conn.execute(extra_sql.format(schema=schema))
    return schema


def table_digest(shard: pgshards.Shard, schema: str, table: str, max_id: int) -> str:
    return shard.scalar(f"SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM {schema}.{table} t "
                        "WHERE id <= %s", (max_id,))


class Inserter(threading.Thread):
    """A transaction-mode client inserting through shardgate, timing every insert."""

    def __init__(self, proxy, tenant: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.proxy, self.tenant, self.stop = proxy, tenant, stop
        self.acked: list[tuple[int, float, float]] = []  # id, started, ended
        self.errors: list[str] = []

    def run(self) -> None:
        with self.proxy.connect(tenant=self.tenant) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    (new_id,) = conn.execute(
                        "INSERT INTO items (body, data, at, amount) VALUES "
                        "('live', '\\xdead'::bytea, now(), 1.5) RETURNING id").fetchone()
                except psycopg.Error as exc:
                    self.errors.append(f"{exc.sqlstate}: {exc}")
                    return
                self.acked.append((new_id, started, time.monotonic()))
                time.sleep(0.002)


def test_copy_move_from_replica_source_with_a_client_waiting_through_the_pause(copy_shards,
                                                                               copy_launcher):
    c1, c2 = copy_shards["c1"], copy_shards["c2"]
    assert c1.scalar("SHOW wal_level") == "replica"
    tenant = "cpa"
    schema = provision(c1, tenant, 60000)
    proxy = start_proxy(copy_launcher, {tenant: "c1"})

    stop = threading.Event()
    inserter = Inserter(proxy, tenant, stop)
    inserter.start()
    time.sleep(0.5)
    result = move(proxy, tenant, "c2", "COPY")
    time.sleep(0.5)
    stop.set()
    inserter.join(30)
    assert result.returncode == 0, result.stderr
    assert inserter.errors == []
    assert f"copied {schema}.items: " in result.stderr and "rows, " in result.stderr
    header, row = result.stdout.strip().splitlines()[:2]
    cols = dict(zip(header.split("|"), row.split("|")))
    move_id, pause_ms = cols["move"], float(cols["pause_ms"])
    assert int(cols["rows"]) >= 60000 + 6000 and int(cols["bytes"]) > 0

    assert directory_shard(proxy, tenant) == "c2"
    moved = f"{schema}__moved_{move_id}"
    assert schemas(c1, tenant) == [moved] and schemas(c2, tenant) == [schema]
    assert replication_leftovers(c1) == [] and replication_leftovers(c2) == []
    assert [(m["mode"], m["phase"]) for m in admin_rows(proxy, "SHOW MOVES")] == [("copy", "done")]

    # Every row (bytea, timestamptz, numeric, NULL) arrived as it was on the source.
    source_max = c1.scalar(f"SELECT max(id) FROM {moved}.items")
    assert table_digest(c1, moved, "items", source_max) == table_digest(c2, schema, "items",
                                                                       source_max)
    assert table_digest(c1, moved, "events", 10**9) == table_digest(c2, schema, "events", 10**9)
    assert c2.scalar(f"SELECT count(*) FROM {schema}.items WHERE note IS NULL AND body <> 'live' "
                     "AND id <= %s", (source_max,)) == 20000
    # Every acknowledged insert is on the target; one of them waited through the pause.
    ids = {r[0] for r in c2.sql(f"SELECT id FROM {schema}.items")}
    assert all(i in ids for i, _, _ in inserter.acked)
    assert any(i > source_max for i, _, _ in inserter.acked), "the client never ran on the target"
    longest = max(end - start for _, start, end in inserter.acked) * 1000
    assert pause_ms > 0 and longest >= pause_ms * 0.5, (longest, pause_ms)
    # The sequence did not go backwards.
    with proxy.connect(tenant=tenant) as conn:
        (after,) = conn.execute("INSERT INTO items (body) VALUES ('after') RETURNING id").fetchone()
    assert after > max(i for i, _, _ in inserter.acked) and after > source_max


def test_online_move_from_replica_source_is_refused_naming_wal_level(copy_shards, copy_launcher):
    c1, c2 = copy_shards["c1"], copy_shards["c2"]
    tenant = "cpo"
    provision(c1, tenant, 10)
    proxy = start_proxy(copy_launcher, {tenant: "c1"})
    result = move(proxy, tenant, "c2", "ONLINE")
    assert result.returncode != 0
    assert "55000" in result.stderr or "wal_level=replica" in result.stderr
    assert "wal_level=replica" in result.stderr and "MOVE ... COPY" in result.stderr
    assert schemas(c2, tenant) == [] and directory_shard(proxy, tenant) == "c1"


def test_checksum_mismatch_fails_the_move_and_rolls_back(copy_shards, copy_launcher):
    """A trigger that fires even for replicated rows (ENABLE ALWAYS), added on the source
    after its rows were written, upper-cases every body the copy inserts on the target: the
    counts agree, the rows do not."""
    c1, c2 = copy_shards["c1"], copy_shards["c2"]
    tenant = "cps"
    schema = provision(c1, tenant, 500, (
        "CREATE FUNCTION {schema}.shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.body := upper(NEW.body); RETURN NEW; END$$;"
        "CREATE TRIGGER shout BEFORE INSERT ON {schema}.items FOR EACH ROW "
        "EXECUTE FUNCTION {schema}.shout();"
        "ALTER TABLE {schema}.items ENABLE ALWAYS TRIGGER shout"))
    proxy = start_proxy(copy_launcher, {tenant: "c1"})
    result = move(proxy, tenant, "c2", "COPY")
    assert result.returncode != 0
    assert "XX001" in result.stderr or "verification failed" in result.stderr
    assert f"table {schema}.items has 500 rows on both shards but they differ" in result.stderr, \
        result.stderr
    assert schemas(c2, tenant) == [] and schemas(c1, tenant) == [schema]
    assert directory_shard(proxy, tenant) == "c1"
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    with proxy.connect(tenant=tenant) as conn:  # resumed, on the source, untouched
        assert conn.execute("SELECT count(*) FROM items WHERE body LIKE 'row %'").fetchone()[0] == 500


def test_cancel_during_the_copy_leaves_nothing_on_the_target(copy_shards, copy_launcher):
    """Each row the copy inserts sleeps in an ALWAYS trigger, so the copy takes seconds."""
    c1, c2 = copy_shards["c1"], copy_shards["c2"]
    tenant = "cpc"
    schema = provision(c1, tenant, 20000, (
        "CREATE FUNCTION {schema}.slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END$$;"
        "CREATE TRIGGER slow BEFORE INSERT ON {schema}.items FOR EACH ROW "
        "EXECUTE FUNCTION {schema}.slow();"
        "ALTER TABLE {schema}.items ENABLE ALWAYS TRIGGER slow"))
    proxy = start_proxy(copy_launcher, {tenant: "c1"})
    mover = threading.Thread(target=lambda: setattr(mover, "result",
                                                    move(proxy, tenant, "c2", "COPY")))
    mover.start()
    deadline = time.monotonic() + 30
    while c2.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s",
                    (f'COPY "{schema}"."items" FROM STDIN%',)) == 0:
        assert time.monotonic() < deadline, "the copy of items never started"
        time.sleep(0.05)
    move_id = admin_rows(proxy, "SHOW MOVES")[0]["id"]
    cancelled_at = time.monotonic()
    cancel = admin_psql(proxy, f"CANCEL MOVE {move_id}")
    assert cancel.returncode == 0, cancel.stderr
    mover.join(60)
    assert time.monotonic() - cancelled_at < 8  # the whole copy would take 10 s or more
    assert mover.result.returncode != 0 and "cancelled" in mover.result.stderr
    assert schemas(c2, tenant) == [] and schemas(c1, tenant) == [schema]
    assert directory_shard(proxy, tenant) == "c1"
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    with proxy.connect(tenant=tenant) as conn:  # resumed on the source
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 20000
