"""Helpers for the transaction-pooling tests (tests/integration/test_txn_*.py, issue 3).

- txn_config(): a config whose only tier (`default`) runs transaction pooling.
- provision_tenants(): many tenant schemas spread over both shards.
- BackendSampler: samples pg_stat_activity on the shards in a thread and keeps the maximum
  number of server connections shardgate held (the pool-size bound).
- ExtConnection: the raw wire client (pgwire) plus the extended protocol (Parse/Bind/...),
  for tests that must control statement names and see every response.
- `python3 txn_helpers.py flood ...`: a load generator in its own process (fairness test), so
  the measuring client is not slowed by 200 other clients in its own interpreter.
"""
from __future__ import annotations

import copy
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parents[1] / "scripts") not in sys.path:
    sys.path.insert(0, str(HERE.parents[1] / "scripts"))

import pgwire  # noqa: E402
from pgwire import cstr, message  # noqa: E402

# The tier every test_txn_* config uses, before per-test overrides.
TXN_TIER = {"pool": "shared", "pool_size": 8, "pool_mode": "transaction", "pool_timeout": "2s",
            "weight": 1}


def txn_config(launcher, sources=None, **tier_overrides) -> dict:
    """The launcher's base config with one transaction-mode tier `default`."""
    config = launcher.config()
    tier = dict(TXN_TIER)
    tier.update(tier_overrides)
    config["tiers"] = {"default": tier}
    if sources is not None:
        config["tenant"] = dict(config["tenant"], sources=list(sources))
    return config


def provision_tenants(shards: dict, prefix: str, count: int, rows: int = 1) -> dict[str, str]:
    """Tenants <prefix>00.. alternating over s1/s2, each with schema tenant_<id> and `rows`
    rows '<id> secret <n>' in its items table. Returns tenant -> shard name."""
    import pgshards
    names = sorted(shards)
    placement = {}
    for i in range(count):
        tenant = f"{prefix}{i:02d}"
        shard = names[i % len(names)]
        pgshards.provision_tenant(shards[shard], tenant, rows=rows)
        placement[tenant] = shard
    return placement


SHARDGATE_BACKENDS = """
    SELECT count(*) FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND usename = 'shardgate' AND datname = 'app'
       AND pid <> pg_backend_pid()"""


def shardgate_backends(shard, where: str = "") -> int:
    """Server connections on `shard` that are not this check's own (tests connect to the
    shards directly only for checks, so these are shardgate's)."""
    return shard.scalar(SHARDGATE_BACKENDS + (" AND " + where if where else ""))


class BackendSampler:
    """Samples the number of shardgate server connections on each shard every `interval`
    seconds in a thread (one direct connection per shard) and records the maximum."""

    def __init__(self, shards: dict, interval: float = 0.05):
        self.shards = shards
        self.interval = interval
        self.max: dict[str, int] = {name: 0 for name in shards}
        self.samples = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conns = {name: shard.connect() for name, shard in self.shards.items()}
        try:
            while not self._stop.is_set():
                for name, conn in conns.items():
                    try:
                        n = conn.execute(SHARDGATE_BACKENDS).fetchone()[0]
                    except Exception as exc:  # noqa: BLE001 - recorded, shown by the test
                        self.errors.append(f"{name}: {exc}")
                        continue
                    self.max[name] = max(self.max[name], n)
                self.samples += 1
                self._stop.wait(self.interval)
        finally:
            for conn in conns.values():
                conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


# --- the extended protocol on the raw client ------------------------------------------------
@dataclass
class Result:
    """What the server sent for one batch up to ReadyForQuery."""
    types: list[bytes] = field(default_factory=list)       # message types in order
    rows: list[tuple] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    errors: list[pgwire.ServerError] = field(default_factory=list)
    status: str = ""                                      # ReadyForQuery status

    @property
    def sqlstates(self) -> list[str]:
        return [e.sqlstate for e in self.errors]


class ExtConnection(pgwire.RawConnection):
    """pgwire.RawConnection plus Parse/Bind/Describe/Execute/Close/Sync (text format)."""

    def parse(self, name: str, sql: str, param_types: tuple[int, ...] = ()) -> None:
        body = cstr(name) + cstr(sql) + struct.pack("!H", len(param_types))
        body += b"".join(struct.pack("!I", t) for t in param_types)
        self.send(message(b"P", body))

    def bind(self, statement: str, params: tuple = (), portal: str = "") -> None:
        body = cstr(portal) + cstr(statement) + struct.pack("!H", 0) + struct.pack("!H", len(params))
        for p in params:
            if p is None:
                body += struct.pack("!i", -1)
            else:
                data = str(p).encode()
                body += struct.pack("!i", len(data)) + data
        body += struct.pack("!H", 0)  # all results in text
        self.send(message(b"B", body))

    def describe(self, kind: str, name: str) -> None:
        self.send(message(b"D", kind.encode() + cstr(name)))

    def execute(self, portal: str = "", max_rows: int = 0) -> None:
        self.send(message(b"E", cstr(portal) + struct.pack("!I", max_rows)))

    def close_statement(self, name: str) -> None:
        self.send(message(b"C", b"S" + cstr(name)))

    def sync(self) -> None:
        self.send(message(b"S", b""))

    def read_until_ready(self) -> Result:
        result = Result()
        while True:
            msg = self.read_message()
            result.types.append(msg.type)
            if msg.type == b"D":
                result.rows.append(pgwire.parse_data_row(msg.body))
            elif msg.type == b"C":
                result.tags.append(msg.body.rstrip(b"\0").decode())
            elif msg.type == b"E":
                result.errors.append(pgwire.ServerError(pgwire.parse_error_fields(msg.body)))
            elif msg.type == b"Z":
                result.status = msg.body.decode()
                return result

    # One-call forms ---------------------------------------------------------------------------
    def run_named(self, name: str, params: tuple = ()) -> Result:
        """Bind+Execute an existing statement, Sync."""
        self.bind(name, params)
        self.execute()
        self.sync()
        return self.read_until_ready()

    def prepare_and_run(self, name: str, sql: str, params: tuple = ()) -> Result:
        """Parse+Bind+Execute+Sync in one batch."""
        self.parse(name, sql)
        self.bind(name, params)
        self.execute()
        self.sync()
        return self.read_until_ready()

    def simple(self, sql: str) -> Result:
        self.send_query(sql)
        return self.read_until_ready()


def ext_connect(proxy, tenant: str | None, user: str = "app", password: str | None = None,
                **params) -> ExtConnection:
    from proxyctl import USERS, APP_PASSWORD
    conn = ExtConnection(proxy.host, proxy.port)
    options = f"-c shardgate.tenant={tenant}" if tenant else None
    conn.startup(user, password if password is not None else USERS.get(user, (APP_PASSWORD,))[0],
                 options=options, **params)
    return conn


def run_threads(target, args_list, timeout: float = 120) -> None:
    """Runs target(*args) for every args in args_list, each in its own thread, and waits for
    all of them (at most `timeout` seconds each)."""
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


# --- load generator in its own process (test_txn_fairness) --------------------------------
def _flood_main(argv: list[str]) -> int:
    """flood CONNINFO CLIENTS SECONDS SQL [PREPARE_THRESHOLD]: opens CLIENTS connections, prints
    'ready', then each loops SQL (one autocommit transaction) until SECONDS have passed; prints
    one JSON line of stats (transactions, errors by SQLSTATE, latency percentiles).
    PREPARE_THRESHOLD is psycopg's (default 'none': never prepare)."""
    import asyncio
    import json

    import psycopg

    conninfo, clients, seconds, sql = argv[0], int(argv[1]), float(argv[2]), argv[3]
    threshold = None if len(argv) < 5 or argv[4] == "none" else int(argv[4])

    async def main() -> dict:
        sem = asyncio.Semaphore(50)

        async def open_one():
            async with sem:
                return await psycopg.AsyncConnection.connect(conninfo, autocommit=True,
                                                             prepare_threshold=threshold)

        conns = await asyncio.gather(*(open_one() for _ in range(clients)))
        print("ready", flush=True)
        latencies: list[float] = []
        errors: dict[str, int] = {}
        deadline = time.monotonic() + seconds

        async def loop(conn):
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    await conn.execute(sql)
                    latencies.append(time.monotonic() - started)
                except psycopg.Error as exc:
                    key = getattr(exc, "sqlstate", None) or type(exc).__name__
                    errors[key] = errors.get(key, 0) + 1
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(loop(c) for c in conns))
        for c in conns:
            await c.close()
        stats = {"transactions": len(latencies), "errors": errors}
        if latencies:
            stats.update({f"p{p}": percentile(latencies, p) for p in (50, 90, 99)})
        return stats

    print(json.dumps(asyncio.run(main())), flush=True)
    return 0


def pid(conn) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def on_other_connection(proxy, conn, sql: str, last: int):
    """Runs `sql` on `conn` (a psycopg client of a pool of 2) on the server connection that
    is not `last`; the row it returns."""
    return elsewhere(proxy, last, lambda: conn.execute(sql + ", pg_backend_pid()").fetchone())


def elsewhere(proxy, last: int, run):
    """Calls run() (one statement of a client of a pool of 2 whose row ends with
    pg_backend_pid()) while another client holds the server connection `last`, so that the
    statement runs on the other one; returns its row without the pid."""
    with proxy.connect(tenant="acme") as h1, proxy.connect(tenant="acme") as h2:
        h1.execute("BEGIN")
        h2.execute("BEGIN")
        holders = {pid(h1): h1, pid(h2): h2}
        assert last in holders, (last, holders)
        for p, h in holders.items():
            if p != last:
                h.execute("COMMIT")
        row = run()
        assert int(row[-1]) != last
        holders[last].execute("COMMIT")
    return tuple(row[:-1])


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "flood":
        sys.exit(_flood_main(sys.argv[2:]))
    print(__doc__)
    sys.exit(2)
