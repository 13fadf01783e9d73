"""DRAIN SHARD / UNDRAIN SHARD (and REBALANCE) across three real PostgreSQL 15 shards with
wal_level=logical, driven through the admin socket while clients keep writing through
shardgate. The moves themselves are tested in test_moves.py; here: which tenants move where,
that nothing is lost, and that a draining shard gets no new tenants."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml

import pgshards
from admin_helpers import admin_psql, admin_rows
from proxyctl import ProxyLauncher
from test_moves import LOGICAL, Writer, provision, replication_leftovers

SHARDS = ("r1", "r2", "r3")


@pytest.fixture(scope="module")
def shards():
    cluster = pgshards.ShardCluster()
    started = {name: cluster.start_shard(name, server_settings=LOGICAL) for name in SHARDS}
    yield started
    cluster.cleanup()


@pytest.fixture(scope="module")
def launcher(shards, binary):
    launcher = ProxyLauncher(shards, binary)
    yield launcher
    launcher.cleanup()


def start(launcher: ProxyLauncher, tenants: dict[str, str], draining: list[str] | None = None):
    config = launcher.config(
        tiers={"txn": {"pool": "shared", "pool_size": 20, "pool_mode": "transaction",
                       "pause_timeout": "30s"}},
        directory={"default_placement": {"hash": list(SHARDS), "tier": "txn"}})
    directory = {"tenants": {t: {"shard": s, "tier": "txn"} for t, s in tenants.items()}}
    if draining:
        directory["draining"] = draining
    return launcher.start(config, directory)


def restart(launcher: ProxyLauncher, proxy):
    assert launcher.stop(proxy) is None
    return launcher.start(json.loads(Path(proxy.config_path).read_text()))


def directory_file(proxy) -> dict:
    config = json.loads(Path(proxy.config_path).read_text())
    return yaml.safe_load(Path(config["directory"]["file"]).read_text())


def placements(proxy) -> dict[str, str]:
    return {t: e["shard"] for t, e in directory_file(proxy)["tenants"].items()}


def admin_error(proxy, sql: str) -> tuple[str, str, str]:
    """(SQLSTATE, message, hint) of a command that must fail."""
    config = json.loads(Path(proxy.config_path).read_text())
    with psycopg.connect(host=config["admin"]["socket_dir"], port=config["admin"]["port"],
                         user="admin", dbname="admin", autocommit=True) as conn:
        result = conn.pgconn.exec_(sql.encode())
        assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR, sql
        field = lambda f: (result.error_field(f) or b"").decode()
        return (field(psycopg.pq.DiagnosticField.SQLSTATE),
                field(psycopg.pq.DiagnosticField.MESSAGE_PRIMARY),
                field(psycopg.pq.DiagnosticField.MESSAGE_HINT))


def fnv1a64(text: str) -> int:
    h = 14695981039346656037
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def hashed_to(shard: str, prefix: str) -> str:
    """A tenant id default_placement's hash puts on `shard` (over SHARDS)."""
    return next(f"{prefix}{i}" for i in range(1000)
                if SHARDS[fnv1a64(f"{prefix}{i}") % len(SHARDS)] == shard)


def server_port(proxy, tenant: str) -> int:
    with proxy.connect(tenant=tenant) as conn:
        return conn.execute("SELECT inet_server_port()").fetchone()[0]


def state(proxy, shard: str) -> dict:
    return {r["shard"]: r for r in admin_rows(proxy, "SHOW SHARDS")}[shard]


def test_drain_shard_empties_it_and_new_tenants_avoid_it_until_undrain(shards, launcher):
    r1, r2, r3 = (shards[s] for s in SHARDS)
    for tenant, shard, rows in (("dra", r3, 3000), ("drb", r3, 200), ("drc", r1, 10),
                                ("drd", r2, 10)):
        provision(shard, tenant, rows)
    # A tenant default_placement's hash puts on r3, with no directory entry.
    implicit = hashed_to("r3", "drh")
    provision(r3, implicit, 50)
    proxy = start(launcher, {"dra": "r3", "drb": "r3", "drc": "r1", "drd": "r2"})
    assert server_port(proxy, implicit) == r3.port

    stop = threading.Event()
    writers = [Writer(proxy, "dra", n, stop) for n in range(2)]
    for w in writers:
        w.start()
    time.sleep(0.3)
    drained = admin_psql(proxy, "DRAIN SHARD r3", timeout=120)
    time.sleep(0.3)
    stop.set()
    for w in writers:
        w.join(30)
    assert drained.returncode == 0, drained.stderr
    notices = [line for line in drained.stderr.splitlines() if "drain r3: moving tenant" in line]
    assert len(notices) == 3, drained.stderr
    assert "drain r3: no tenants left on the shard" in drained.stderr
    moved = [line.split("|") for line in drained.stdout.strip().splitlines()[1:]]
    assert sorted(m[1] for m in moved) == sorted(["dra", "drb", implicit])
    assert all(m[2] == "r3" and m[3] in ("r1", "r2") for m in moved)

    # Directory and data: nothing of any tenant is left live on r3.
    where = placements(proxy)
    assert "r3" not in where.values() and where[implicit] in ("r1", "r2")
    assert [n for (n,) in r3.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%' "
                                  "AND nspname NOT LIKE '%%\\_\\_moved\\_%%'")] == []
    for s in shards.values():
        assert replication_leftovers(s) == []
    # Every acknowledged write of the writers is on dra's new shard; the copy is complete.
    target = shards[where["dra"]]
    acked = {(w.number, seq) for w in writers for seq in w.acked_inserts}
    assert len(acked) > 20
    on_target = set(target.sql("SELECT writer, seq FROM tenant_dra.items WHERE writer IS NOT NULL"))
    assert acked <= on_target
    assert target.scalar("SELECT count(*) FROM tenant_dra.items WHERE writer IS NULL") == 3000
    assert [e for w in writers for e in w.errors] == []
    assert shards[where[implicit]].scalar(f"SELECT count(*) FROM tenant_{implicit}.items") == 50
    assert server_port(proxy, implicit) == shards[where[implicit]].port

    # A draining shard gets no new tenants: not by CREATE TENANT, not by the hash, not by MOVE.
    row = state(proxy, "r3")
    assert (row["state"], row["tenants"]) == ("draining", "0")
    assert directory_file(proxy)["draining"] == ["r3"]
    for n in range(3):
        assert admin_psql(proxy, f"CREATE TENANT drn{n}").returncode == 0
    assert all(placements(proxy)[f"drn{n}"] != "r3" for n in range(3))
    code, message, hint = admin_error(proxy, "CREATE TENANT drx ON SHARD r3")
    assert code == "55000" and "draining" in message and "UNDRAIN SHARD r3" in hint
    assert "drx" not in placements(proxy) and r3.sql(
        "SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_drx'") == []
    code, message, _ = admin_error(proxy, "MOVE TENANT drc TO SHARD r3")
    assert code == "55000" and "draining" in message
    fresh = hashed_to("r3", "drf")
    assert server_port(proxy, fresh) != r3.port

    # The flag survives a restart (it lives in the directory file).
    proxy = restart(launcher, proxy)
    assert state(proxy, "r3")["state"] == "draining"
    assert server_port(proxy, fresh) != r3.port

    assert admin_psql(proxy, "UNDRAIN SHARD r3").returncode == 0
    assert state(proxy, "r3")["state"] == "active"
    assert "draining" not in directory_file(proxy)
    assert admin_psql(proxy, "CREATE TENANT drm").returncode == 0
    assert placements(proxy)["drm"] == "r3"  # now the least loaded
    assert server_port(proxy, fresh) == r3.port


def test_drain_refusals(shards, launcher):
    provision(shards["r1"], "dre", 1)
    proxy = start(launcher, {"dre": "r1"}, draining=["r2", "r3"])
    assert state(proxy, "r2")["state"] == "draining"
    code, message, _ = admin_error(proxy, "DRAIN SHARD nowhere")
    assert code == "3D000" and "nowhere" in message
    code, message, hint = admin_error(proxy, "DRAIN SHARD r1")
    assert code == "55000" and "no shard to drain" in message and "UNDRAIN" in hint
    assert state(proxy, "r1")["state"] == "active" and placements(proxy) == {"dre": "r1"}
    assert admin_psql(proxy, "CREATE TENANT drz").returncode == 0
    assert placements(proxy)["drz"] == "r1"
    assert admin_error(proxy, "UNDRAIN SHARD nowhere")[0] == "3D000"


# 40 tenants of different sizes (rows): 26 on r1 with most of the bytes, 10 on r2, 4 small
# ones on r3.
_ROWS = {"r1": (6000, 5000, 4500, 4000, 3500, 3000, 2800, 2600, 2400, 2200, 2000, 1800, 1600,
                1400, 1200, 1000, 900, 800, 700, 600, 500, 400, 300, 200, 150, 100),
         "r2": (3000, 2500, 2000, 1500, 1000, 800, 600, 400, 200, 100),
         "r3": (500, 300, 200, 100)}
SKEWED = {f"rb{shard[1]}{i:02d}": (shard, rows)
          for shard, sizes in _ROWS.items() for i, rows in enumerate(sizes)}
assert len(SKEWED) == 40


def shard_totals(stderr: str) -> dict[str, tuple[int, int, int, bool]]:
    """The per-shard NOTICEs of REBALANCE [PLAN]: shard -> (before, after, mean, within)."""
    totals = {}
    for line in stderr.splitlines():
        if "NOTICE:  shard " not in line:
            continue
        words = line.split("NOTICE:  shard ", 1)[1].replace(",", "").replace("(", "") \
            .replace(")", "").split()
        # r1: 123 bytes before 45 after mean 67 within 10%: yes
        totals[words[0].rstrip(":")] = (int(words[1]), int(words[4]), int(words[7]),
                                        words[-1] == "yes")
    return totals


def plan_rows(result) -> list[dict]:
    lines = [line for line in result.stdout.splitlines() if line]
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"))) for line in lines[1:]]


def row_counts(shards, proxy, tenants) -> dict[str, int]:
    where = placements(proxy)
    return {t: shards[where[t]].scalar(f"SELECT count(*) FROM tenant_{t}.items") for t in tenants}


def test_rebalance_plan_then_rebalance_under_a_writer(shards, launcher):
    for tenant, (shard, rows) in SKEWED.items():
        provision(shards[shard], tenant, rows)
        # Sizes settle before planning: otherwise autovacuum may add a table's free-space and
        # visibility-map forks between two plans and change what they pick.
        shards[shard].sql(f"VACUUM (ANALYZE) tenant_{tenant}.items")
    proxy = start(launcher, {t: s for t, (s, _) in SKEWED.items()})
    before_dir = placements(proxy)

    plan = admin_psql(proxy, "REBALANCE PLAN")
    assert plan.returncode == 0, plan.stderr
    totals = shard_totals(plan.stderr)
    assert set(totals) == set(SHARDS)
    assert not all(abs(b - m) <= 0.1 * m for b, _, m, _ in totals.values())  # really skewed
    moves = plan_rows(plan)
    assert 1 <= len(moves) <= len(SKEWED)
    assert all(m["to"] in SHARDS and m["to"] != m["from"] for m in moves)
    # The planned totals: replaying the moves over the shards' totals before gives the totals
    # after, and every shard ends within 10% of the mean.
    replay = {s: t[0] for s, t in totals.items()}
    for m in moves:
        assert int(m["from_before"]) == replay[m["from"]] and int(m["to_before"]) == replay[m["to"]]
        replay[m["from"]] -= int(m["bytes"])
        replay[m["to"]] += int(m["bytes"])
    for shard, (_, after, mean, within) in totals.items():
        assert replay[shard] == after and within and abs(after - mean) <= 0.1 * mean, totals
    assert placements(proxy) == before_dir  # PLAN changes nothing
    one = plan_rows(admin_psql(proxy, "REBALANCE PLAN MAX MOVES 1"))
    assert [m["tenant"] for m in one] == [moves[0]["tenant"]]

    counts = row_counts(shards, proxy, SKEWED)
    busy = moves[0]["tenant"]
    stop = threading.Event()
    writers = [Writer(proxy, busy, n, stop) for n in range(2)]
    for w in writers:
        w.start()
    time.sleep(0.3)
    result = admin_psql(proxy, "REBALANCE", timeout=400)
    stop.set()
    for w in writers:
        w.join(30)
    assert result.returncode == 0, result.stderr
    done = plan_rows(result)
    steps = [line for line in result.stderr.splitlines() if "rebalance move " in line]
    assert len(done) == len(steps) >= 1
    assert all(within for *_, within in shard_totals(result.stderr).values()), result.stderr
    where = placements(proxy)
    for m in done:
        assert where[m["tenant"]] == m["to"] and before_dir[m["tenant"]] == m["from"]

    # Nothing lost: every tenant has its rows where the directory says, the writers' tenant
    # every acknowledged insert on top.
    after = row_counts(shards, proxy, SKEWED)
    for tenant in SKEWED:
        if tenant != busy:
            assert after[tenant] == counts[tenant], tenant
    acked = {(w.number, seq) for w in writers for seq in w.acked_inserts}
    assert len(acked) > 20 and [e for w in writers for e in w.errors] == []
    on_shard = set(shards[where[busy]].sql(
        f"SELECT writer, seq FROM tenant_{busy}.items WHERE writer IS NOT NULL"))
    assert acked <= on_shard
    assert shards[where[busy]].scalar(
        f"SELECT count(*) FROM tenant_{busy}.items WHERE writer IS NULL") == SKEWED[busy][1]
    for s in shards.values():
        assert replication_leftovers(s) == []


def test_rebalance_plan_by_load_and_never_onto_a_draining_shard(shards, launcher):
    tenants = {"rla": "r1", "rlb": "r1", "rlc": "r1", "rld": "r2"}
    for tenant, shard in tenants.items():
        provision(shards[shard], tenant, 10)
    proxy = start(launcher, tenants, draining=["r3"])
    for tenant, queries in (("rla", 30), ("rlb", 20), ("rlc", 10), ("rld", 5)):
        with proxy.connect(tenant=tenant) as conn:
            for _ in range(queries):
                conn.execute("SELECT 1")
    plan = admin_psql(proxy, "REBALANCE PLAN BY LOAD")
    assert plan.returncode == 0, plan.stderr
    assert set(shard_totals(plan.stderr)) == {"r1", "r2"}  # the draining shard is left out
    moves = plan_rows(plan)
    assert moves and all(m["to"] == "r2" for m in moves) and "queries" in moves[0]
    assert int(moves[0]["queries"]) >= 10
