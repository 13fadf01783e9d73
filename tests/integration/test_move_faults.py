"""Tenant moves under faults, on two real PostgreSQL 15 shards: the target shard stopped in the
middle of the copy, shardgate killed with SIGKILL in each phase and restarted, CANCEL MOVE in
each phase. The contract is docs/moves.md, "Durability: the move journal": the directory
always names one complete placement, and no slot, publication, subscription or sg_move_
schema outlives a move.

Phases too short to hit by timing are held with real levers where there is one (a lock on a
tenant table keeps pg_dump waiting in the schema phase; no table-sync workers keep the copy
phase going; an open transaction of the tenant keeps the cutover draining) and with
shardgate's test-only SHARDGATE_MOVE_FAILPOINT otherwise (catchup, after the flip, cleanup)."""
from __future__ import annotations

import contextlib
import threading
import time

import pytest

import pgshards
from admin_helpers import admin_psql, admin_rows
from test_moves import (  # noqa: F401  (move_shards, move_launcher are fixtures)
    assert_rolled_back, directory_shard, move, move_launcher, move_shards, provision,
    replication_leftovers, restart_after_kill, schemas, set_sync_workers, start_proxy,
    wait_for_phase)

ROWS = 800
HOLD = "sleep:60000"  # far longer than any test waits: only a kill or a cancel ends it


def failpoint(point: str) -> dict:
    return {"SHARDGATE_MOVE_FAILPOINT": f"{point}={HOLD}"}


def wait_until(predicate, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Mover(threading.Thread):
    """MOVE TENANT on the admin socket, in the background; `result` is psql's outcome."""

    def __init__(self, proxy, tenant: str, to: str = "m2", extra: str = "PAUSE BUDGET 60s"):
        super().__init__(daemon=True)
        self.proxy, self.tenant, self.to, self.extra = proxy, tenant, to, extra
        self.result = None

    def run(self) -> None:
        self.result = move(self.proxy, self.tenant, self.to, self.extra, timeout=120)

    def finish(self, timeout: float = 60):
        self.join(timeout)
        assert not self.is_alive(), f"MOVE TENANT {self.tenant} did not return in {timeout}s"
        return self.result


@contextlib.contextmanager
def table_locked(shard: pgshards.Shard, tenant: str):
    """An open transaction holding ACCESS EXCLUSIVE on the tenant's table, as a long DDL
    would: pg_dump (the move's schema step) waits for it."""
    conn = shard.connect()
    try:
        conn.execute("BEGIN")
        conn.execute(f"LOCK TABLE tenant_{tenant}.items IN ACCESS EXCLUSIVE MODE")
        yield conn
    finally:
        conn.close()


def pg_dump_waiting(shard: pgshards.Shard) -> bool:
    return shard.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'shardgate move' AND wait_event_type = 'Lock'") > 0


def tenant_rows(proxy, tenant: str) -> int:
    with proxy.connect(tenant=tenant) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def write_through_proxy(proxy, tenant: str, n: int) -> None:
    with proxy.connect(tenant=tenant) as conn:
        for i in range(n):
            conn.execute("INSERT INTO items (body) VALUES (%s)", (f"{tenant} during {i}",))


def assert_completed(proxy, source, target, tenant: str, move_id: str) -> None:
    """The tenant lives on the target; the source keeps only the renamed schema; neither shard
    keeps a replication object of the move."""
    assert directory_shard(proxy, tenant) == target.name
    assert schemas(target, tenant) == [f"tenant_{tenant}"]
    assert schemas(source, tenant) == [f"tenant_{tenant}__moved_{move_id}"]
    assert replication_leftovers(source) == [] and replication_leftovers(target) == []


def assert_answers(proxy, tenant: str, rows: int) -> None:
    """The tenant answers through shardgate with every row, and takes writes."""
    assert tenant_rows(proxy, tenant) == rows
    write_through_proxy(proxy, tenant, 1)
    assert tenant_rows(proxy, tenant) == rows + 1


def move_held_in_copy(proxy, source: pgshards.Shard, tenant: str):
    """Starts MOVE TENANT (to m2, whose zero table-sync workers keep it in phase copy) and
    returns (the Mover, the move id) once the subscription streams from the source's slot: the
    WAL that slot would hold is real."""
    mover = Mover(proxy, tenant)
    mover.start()
    move_id = wait_for_phase(proxy, "copy")["id"]
    wait_until(lambda: source.scalar("SELECT count(*) FROM pg_replication_slots WHERE "
                                     "slot_name = %s AND active", (f"sg_move_{move_id}",)),
                   "the move's slot to be in use")
    return mover, move_id


# --- the target shard stopped in the middle of the copy ----------------------------------------
@pytest.mark.parametrize("settle", ["cancel", "restart"])
def test_target_stopped_mid_copy_leaves_no_slot_and_settles_once_it_is_back(
        move_shards, move_launcher, settle):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = f"mft{settle[0]}"
    provision(m1, tenant, ROWS)
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    set_sync_workers(m2, 0)
    try:
        mover, move_id = move_held_in_copy(proxy, m1, tenant)
        m2.stop()
        result = mover.finish()
        # MOVE says what happened, what is left to do, and how.
        assert result.returncode != 0
        assert 'on shard "m2"' in result.stderr, result.stderr
        assert 'cleanup incomplete: cannot reach shard "m2"' in result.stderr, result.stderr
        assert f"CANCEL MOVE {move_id} retries the cleanup" in result.stderr, result.stderr
        [row] = admin_rows(proxy, "SHOW MOVES")
        assert row["phase"] == "failed", row
        assert row["error"].startswith('on shard "m2"'), row
        assert 'cleanup incomplete: cannot reach shard "m2"' in row["error"], row
        # The part that matters: nothing holds WAL on the source while the target is away.
        assert replication_leftovers(m1) == []
        assert directory_shard(proxy, tenant) == "m1"
        assert tenant_rows(proxy, tenant) == ROWS
        # While the target is down a retry cannot finish, and says so.
        again = admin_psql(proxy, f"CANCEL MOVE {move_id}")
        assert again.returncode != 0 and "could not be cleaned up" in again.stderr, again.stderr
        assert replication_leftovers(m1) == []
    finally:
        if not m2.running:
            m2.start()
        set_sync_workers(m2, 2)
    # The target is back with the move's subscription, marker and half-made schema on it.
    assert replication_leftovers(m2) != [] and schemas(m2, tenant) == [f"tenant_{tenant}"]
    if settle == "cancel":
        done = admin_psql(proxy, f"CANCEL MOVE {move_id}")
        assert done.returncode == 0, done.stderr
        assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    else:
        assert move_launcher.stop(proxy) is None
        proxy = restart_after_kill(move_launcher, proxy)
    assert_rolled_back(proxy, m1, m2, tenant)
    assert_answers(proxy, tenant, ROWS)


def test_source_stopped_mid_copy_fails_cleanly_and_settles_once_it_is_back(move_shards,
                                                                            move_launcher):
    """The source going away mid-copy: the move fails naming it, the target keeps no
    subscription (it is detached from its unreachable slot), and once the source is back
    CANCEL MOVE drops the slot that would otherwise hold its WAL, and the target's copy."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mfsrc"
    provision(m1, tenant, ROWS)
    proxy = start_proxy(move_launcher, {tenant: "m1"})
    set_sync_workers(m2, 0)
    try:
        mover, move_id = move_held_in_copy(proxy, m1, tenant)
        m1.stop()
        result = mover.finish()
        assert result.returncode != 0
        assert 'source shard "m1"' in result.stderr, result.stderr
        assert 'cleanup incomplete: cannot reach shard "m1"' in result.stderr, result.stderr
        assert f"CANCEL MOVE {move_id} retries the cleanup" in result.stderr, result.stderr
        [row] = admin_rows(proxy, "SHOW MOVES")
        assert row["phase"] == "failed", row
        # Nothing of the move's replication is left on the reachable side.
        assert replication_leftovers(m2) == []
        assert directory_shard(proxy, tenant) == "m1"
    finally:
        if not m1.running:
            m1.start()
        set_sync_workers(m2, 2)
    # The source is back, and so is the slot the move made there (it holds WAL until dropped).
    assert replication_leftovers(m1) != []
    done = admin_psql(proxy, f"CANCEL MOVE {move_id}")
    assert done.returncode == 0, done.stderr
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    assert_rolled_back(proxy, m1, m2, tenant)
    assert_answers(proxy, tenant, ROWS)


# --- kill -9 of shardgate in each phase, then a restart ----------------------------------------
# phase held -> what the restart must do (docs/moves.md's journal table).
KILL_CASES = {
    "schema": "rolled_back",    # pg_dump waits for a lock on the tenant's table
    "catchup": "rolled_back",   # failpoint
    "flipped": "done",          # failpoint: the directory names the target, source not renamed
    "cleanup": "done",          # failpoint
}


@pytest.mark.parametrize("point", list(KILL_CASES))
def test_kill_in_phase_then_restart_settles_per_the_journal_table(move_shards, move_launcher,
                                                                  point):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = f"mfk{point[:3]}"
    provision(m1, tenant, ROWS)
    proxy = start_proxy(move_launcher, {tenant: "m1"},
                        env=None if point == "schema" else failpoint(point))
    rows = ROWS
    with contextlib.ExitStack() as held:
        mover = Mover(proxy, tenant)
        if point == "schema":
            held.enter_context(table_locked(m1, tenant))
            mover.start()
            move_id = wait_for_phase(proxy, "schema")["id"]
            wait_until(lambda: pg_dump_waiting(m1), "pg_dump to wait for the lock")
        elif point == "flipped":
            mover.start()
            move_id = wait_for_phase(proxy, "cutover")["id"]
            wait_until(lambda: directory_shard(proxy, tenant) == "m2", "the directory flip")
            # Past the commit point, before the source schema is renamed.
            assert schemas(m1, tenant) == [f"tenant_{tenant}"]
        else:
            mover.start()
            move_id = wait_for_phase(proxy, point)["id"]
            write_through_proxy(proxy, tenant, 5)  # the tenant is not paused in this phase
            rows += 5
        if point != "schema":
            assert replication_leftovers(m1) != []  # the move really had replication running
        proxy.kill()
        mover.finish()
    restarted = restart_after_kill(move_launcher, proxy, expect=KILL_CASES[point])
    if KILL_CASES[point] == "done":
        assert_completed(restarted, m1, m2, tenant, move_id)
        assert m2.scalar(f"SELECT count(*) FROM tenant_{tenant}.items") == rows
    else:
        assert_rolled_back(restarted, m1, m2, tenant)
    assert_answers(restarted, tenant, rows)


def test_kill_in_the_middle_of_a_rollback_then_restart_finishes_it(move_shards, move_launcher):
    """A move that fails (a pause budget no cutover can meet) is rolling back when shardgate is
    killed: replication already dropped, the target's copy of the schema not yet (failpoint).
    The restart finishes the rollback."""
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mfkrb"
    provision(m1, tenant, ROWS)
    proxy = start_proxy(move_launcher, {tenant: "m1"}, env=failpoint("rolling_back"))
    mover = Mover(proxy, tenant, extra="PAUSE BUDGET 1ms")
    mover.start()
    wait_until(lambda: "rolling back: " in proxy.log(), "the move to fail and roll back")
    wait_until(lambda: replication_leftovers(m1) == [] and replication_leftovers(m2) == [],
               "the rollback to drop the replication")
    assert schemas(m2, tenant) == [f"tenant_{tenant}"]  # half done: the target's copy is there
    assert "over its pause budget" in proxy.log()
    proxy.kill()
    mover.finish()
    restarted = restart_after_kill(move_launcher, proxy, expect="rolled_back")
    assert_rolled_back(restarted, m1, m2, tenant)
    assert_answers(restarted, tenant, ROWS)


# --- CANCEL MOVE in each phase -----------------------------------------------------------------
CANCEL_PHASES = ["planned", "schema", "copy", "catchup", "cutover"]


@pytest.mark.parametrize("phase", CANCEL_PHASES)
def test_cancel_in_phase_leaves_nothing_and_the_tenant_on_the_source(move_shards, move_launcher,
                                                                      phase):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = f"mfc{phase[:3]}"
    provision(m1, tenant, ROWS)
    env = failpoint(phase) if phase in ("planned", "catchup") else None
    if phase == "cutover":  # 3 s after phase cutover is journaled, before its pause
        env = {"SHARDGATE_MOVE_FAILPOINT": "cutover=sleep:3000"}
    proxy = start_proxy(move_launcher, {tenant: "m1"}, env=env)
    with contextlib.ExitStack() as held:
        if phase == "schema":
            held.enter_context(table_locked(m1, tenant))
        if phase == "copy":
            set_sync_workers(m2, 0)
            held.callback(set_sync_workers, m2, 2)
        mover = Mover(proxy, tenant)
        mover.start()
        move_id = wait_for_phase(proxy, phase)["id"]
        if phase == "cutover":
            # An open transaction of the tenant keeps the cutover waiting for it to finish.
            holder = held.enter_context(proxy.connect(tenant=tenant, autocommit=False))
            holder.execute("SELECT count(*) FROM items")
            wait_until(lambda: "cutover: paused, waiting for 1 transaction" in proxy.log(),
                       "the cutover to wait for the open transaction")
        if phase == "schema":
            wait_until(lambda: pg_dump_waiting(m1), "pg_dump to wait for the lock")
        if phase == "copy":
            wait_until(lambda: replication_leftovers(m2), "the subscription")
        started = time.monotonic()
        cancel = admin_psql(proxy, f"CANCEL MOVE {move_id}", timeout=50)
        took = time.monotonic() - started
        assert cancel.returncode == 0, cancel.stderr
        # Every hold above lasts a minute or more: CANCEL must not wait for it to end.
        assert took < 20, f"CANCEL MOVE took {took:.1f}s"
        result = mover.finish()
        assert result.returncode != 0 and "cancelled" in result.stderr, result.stderr
        if phase == "cutover":
            holder.execute("INSERT INTO items (body) VALUES ('during the cutover')")
            holder.commit()
    rows = ROWS + (1 if phase == "cutover" else 0)
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["rolled_back"]
    assert_rolled_back(proxy, m1, m2, tenant)
    assert_answers(proxy, tenant, rows)


def test_cancel_after_the_flip_finishes_the_move(move_shards, move_launcher):
    m1, m2 = move_shards["m1"], move_shards["m2"]
    tenant = "mfcflip"
    provision(m1, tenant, ROWS)
    proxy = start_proxy(move_launcher, {tenant: "m1"}, env=failpoint("flipped"))
    mover = Mover(proxy, tenant)
    mover.start()
    move_id = wait_for_phase(proxy, "cutover")["id"]
    wait_until(lambda: directory_shard(proxy, tenant) == "m2", "the directory flip")
    cancel = admin_psql(proxy, f"CANCEL MOVE {move_id}", timeout=50)
    assert cancel.returncode == 0, cancel.stderr
    assert "it was completed, not rolled back" in cancel.stderr, cancel.stderr
    result = mover.finish()
    assert result.returncode == 0, result.stderr
    assert [m["phase"] for m in admin_rows(proxy, "SHOW MOVES")] == ["done"]
    assert_completed(proxy, m1, m2, tenant, move_id)
    assert m2.scalar(f"SELECT count(*) FROM tenant_{tenant}.items") == ROWS
    assert_answers(proxy, tenant, ROWS)
    # A finished move cannot be cancelled any more.
    again = admin_psql(proxy, f"CANCEL MOVE {move_id}")
    assert again.returncode != 0 and "has already ended (done)" in again.stderr, again.stderr

