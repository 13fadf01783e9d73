"""The verification of ONLINE moves, on two real PostgreSQL 15 shards: both shards take a
snapshot at one point (a short pause of its own before the cutover), and those snapshots are
compared, row counts and row checksums, while the tenant works. A difference rolls the move
back; so does a table the source gained after the schema step, found in the cutover. And the
target pool is warmed for the tenant's clients before the cutover."""
from __future__ import annotations

import threading

from admin_helpers import admin_rows
from test_move_faults import wait_until
from test_moves import (  # noqa: F401  (move_shards, move_launcher are fixtures)
    assert_rolled_back, directory_shard, move, move_launcher, move_shards, provision,
    start_proxy)


def test_rows_that_differ_fail_the_move_at_the_verification_point(move_shards, move_launcher):
    """A trigger that fires even for replicated rows (ENABLE ALWAYS; pg_dump carries it to the
    target) upper-cases every body the subscription writes there: the counts agree, the rows
    do not."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvx"
    provision(m1, tenant, 500, (
        "CREATE FUNCTION {schema}.shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.body := upper(NEW.body); RETURN NEW; END$$;"
        "CREATE TRIGGER shout BEFORE INSERT ON {schema}.items FOR EACH ROW "
        "EXECUTE FUNCTION {schema}.shout();"
        "ALTER TABLE {schema}.items ENABLE ALWAYS TRIGGER shout"))
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    result = move(proxy, tenant, "m2")
    assert result.returncode != 0
    assert "XX001" in result.stderr or "verification failed" in result.stderr, result.stderr
    assert f"table tenant_{tenant}.items has 500 rows on both shards but they differ" \
        in result.stderr, result.stderr
    assert "verification point: paused" in result.stderr and "cutover" not in result.stderr
    assert_rolled_back(proxy, m1, m2, tenant)
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    with proxy.connect(tenant=tenant) as conn:  # resumed, on the source, untouched
        assert conn.execute("SELECT count(*) FROM items WHERE body LIKE 'mvx row %'"
                            ).fetchone()[0] == 500


def test_table_created_on_the_source_after_verification_fails_the_cutover(move_shards,
                                                                            move_launcher):
    """DDL is not replicated: a table created on the source once the target's schema exists
    would stay behind with its rows. The cutover compares the tables of both sides inside its
    fence. The move is held 4 s after its verification (a test-only failpoint) to create one."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvy"
    provision(m1, tenant, 300)
    proxy = start_proxy(move_launcher, {tenant: "m1"},
                        env={"SHARDGATE_MOVE_FAILPOINT": "verified=sleep:4000"})
    outcome = {}
    mover = threading.Thread(target=lambda: outcome.update(r=move(proxy, tenant, "m2")),
                             daemon=True)
    mover.start()
    wait_until(lambda: "verify: source" in proxy.log(), "the verification to finish")
    with m1.connect() as conn:
        conn.execute(f"CREATE TABLE tenant_{tenant}.late (id int PRIMARY KEY)")
        conn.execute(f"INSERT INTO tenant_{tenant}.late VALUES (1), (2)")
    mover.join(60)
    result = outcome["r"]
    assert result.returncode != 0
    assert "55000" in result.stderr or "tables changed" in result.stderr, result.stderr
    assert "the tenant's tables changed on the source during the move" in result.stderr
    assert "source: items, late; target: items" in result.stderr, result.stderr
    assert_rolled_back(proxy, m1, m2, tenant)
    assert directory_shard(proxy, tenant) == "m1"
    with proxy.connect(tenant=tenant) as conn:
        assert conn.execute("SELECT count(*) FROM late").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 300


def pool_connections(shard) -> int:
    """Server connections shardgate's pools hold on `shard` (they log in without an
    application_name; the move's own connections say 'shardgate move')."""
    return shard.scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                        "'client backend' AND application_name = '' AND pid <> pg_backend_pid()")


def test_target_pool_holds_a_connection_per_client_before_the_cutover(move_shards,
                                                                       move_launcher):
    """Every client waiting at the cutover runs at once when it ends: their server
    connections on the target are opened before the pause, not then. The move is held after
    its verification (failpoint) to look at the target."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mvz"
    provision(m1, tenant, 100)
    proxy = start_proxy(move_launcher, {tenant: "m1"},
                        env={"SHARDGATE_MOVE_FAILPOINT": "verified=sleep:5000"})
    clients = [proxy.connect(tenant=tenant) for _ in range(6)]
    try:
        for conn in clients:  # transaction mode: connected, no server connection held
            conn.execute("SELECT 1")
        before = pool_connections(m2)
        outcome = {}
        mover = threading.Thread(target=lambda: outcome.update(r=move(proxy, tenant, "m2")),
                                 daemon=True)
        mover.start()
        wait_until(lambda: "verify: source" in proxy.log(), "the verification to finish")
        # Held after the verification, before the cutover.
        wait_until(lambda: pool_connections(m2) - before >= 6,
                   "six pool connections on the target before the cutover", timeout=10)
        mover.join(60)
        assert outcome["r"].returncode == 0, outcome["r"].stderr
        for conn in clients:  # each follows the tenant to the target
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 100
    finally:
        for conn in clients:
            conn.close()
