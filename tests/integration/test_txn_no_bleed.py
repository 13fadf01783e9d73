"""No tenant-context bleed in transaction mode (issue 3: "500 concurrent clients of 20
tenants on a pool of 8: every row each client reads is its own tenant's").

Setup: 20 tenants nb00..nb19, alternating over s1 and s2 (10 per shard), each with schema
tenant_<id> and one marker row '<id> secret 1'; public.items holds 'public leak' rows that a
missing search_path would show. One tier: pool: shared, pool_size 8, pool_mode transaction,
pool_timeout 15s (waits here are long by design: 250 clients per shard share 8 connections;
this test is about bleed, not timeouts, so any error at all fails it).

Load (bounded): 500 client connections (25 per tenant, tenant by options or user suffix),
all open at once; each runs 20 transactions = 10,000 transactions, ~27,000 statements, in
four shapes (single SELECT; BEGIN..COMMIT with context + rows; BEGIN, INSERT, read it back,
ROLLBACK; extended protocol with a parameter). Every row read must be the client's tenant's,
current_setting('shardgate.tenant') and current_schema() must be its own, and on the
shards pg_stat_activity (sampled every 50 ms) must never show more than 8 shardgate server
connections per shard (one shared pool per shard and tier). Bounded at 120 s. Run twice:
with the tier defaults, and with pipeline_depth 4.
"""
import asyncio
import random
import resource
import time

import psycopg
import pytest

from proxyctl import APP_PASSWORD, directory_for

from txn_helpers import BackendSampler, provision_tenants, txn_config

TENANTS = 20
CLIENTS = 500
TXNS_PER_CLIENT = 20
POOL_SIZE = 8
TIME_LIMIT_S = 120


@pytest.fixture(scope="module")
def placement(shards):
    return provision_tenants(shards, "nb", TENANTS, rows=1)


def _raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


async def _client(index, tenant, conn, problems, counters):
    while counters["connected"] < CLIENTS and not counters["failed_connect"]:
        await asyncio.sleep(0.05)   # all 500 open before the load starts
    rng = random.Random(index)
    own = f"{tenant} secret 1"
    try:
        for n in range(TXNS_PER_CLIENT):
            shape = (index + n) % 4
            if shape == 0:
                rows = await (await conn.execute("SELECT body FROM items")).fetchall()
                seen = [r[0] for r in rows]
            elif shape == 1:
                async with conn.transaction():
                    ctx = await (await conn.execute(
                        "SELECT current_setting('shardgate.tenant'), current_schema()")).fetchone()
                    if ctx != (tenant, f"tenant_{tenant}"):
                        problems.append((index, tenant, "context", ctx))
                    rows = await (await conn.execute("SELECT body FROM items")).fetchall()
                    seen = [r[0] for r in rows]
            elif shape == 2:
                tag = f"{tenant} temp {index}-{n}"
                await conn.execute("BEGIN")
                await conn.execute("INSERT INTO items (body) VALUES (%s)", (tag,))
                rows = await (await conn.execute("SELECT body FROM items ORDER BY id")).fetchall()
                await conn.execute("ROLLBACK")
                seen = [r[0] for r in rows]
                if tag not in seen:
                    problems.append((index, tenant, "own uncommitted row not visible", seen))
                seen = [s for s in seen if s != tag]
            else:
                rows = await (await conn.execute(
                    "SELECT body, current_setting('shardgate.tenant') FROM items WHERE body LIKE %s",
                    ("%secret%",))).fetchall()
                seen = [r[0] for r in rows]
                if any(r[1] != tenant for r in rows):
                    problems.append((index, tenant, "setting", rows))
            if seen != [own]:
                problems.append((index, tenant, f"shape {shape}", seen))
            counters["transactions"] += 1
            if rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.01)
    except psycopg.Error as exc:
        problems.append((index, tenant, "error", f"{exc.sqlstate}: {exc}"))
    finally:
        await conn.close()


@pytest.mark.parametrize("depth", [1, 4])
def test_500_clients_20_tenants_pool_of_8_no_bleed(start_proxy, launcher, shards, placement, depth):
    _raise_nofile(4 * CLIENTS + 256)
    # depth 4: the same with pipelining on (requests of a tenant may queue on a busy connection).
    config = txn_config(launcher, pool_size=POOL_SIZE, pool_timeout="15s", pipeline_depth=depth)
    proxy = start_proxy(config, directory_for(placement))
    tenants = sorted(placement)
    problems: list = []
    counters = {"connected": 0, "failed_connect": 0, "transactions": 0}

    async def main():
        sem = asyncio.Semaphore(100)   # connect 100 at a time (SCRAM costs CPU on both sides)

        async def one(i):
            tenant = tenants[i % TENANTS]
            conninfo = (proxy.conninfo(tenant) if i % 2 == 0
                        else proxy.conninfo(user=f"app.{tenant}", password=APP_PASSWORD))
            try:
                async with sem:
                    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
            except psycopg.Error as exc:
                counters["failed_connect"] += 1
                problems.append((i, "connect", str(exc)))
                return
            counters["connected"] += 1
            await _client(i, tenant, conn, problems, counters)

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(CLIENTS))), TIME_LIMIT_S)

    started = time.monotonic()
    with BackendSampler(shards, interval=0.05) as sampler:
        asyncio.run(main())
    elapsed = time.monotonic() - started
    assert not problems, f"{len(problems)} problems, first: {problems[:10]}"
    assert counters["transactions"] == CLIENTS * TXNS_PER_CLIENT, counters
    assert sampler.samples >= 10 and not sampler.errors, (sampler.samples, sampler.errors[:3])
    assert all(n <= POOL_SIZE for n in sampler.max.values()), \
        f"more than {POOL_SIZE} server connections on a shard: {sampler.max}"
    assert all(n >= 1 for n in sampler.max.values()), sampler.max     # both shards were used
    print(f"{CLIENTS * TXNS_PER_CLIENT} transactions in {elapsed:.1f}s; max server connections per shard: {sampler.max}")
