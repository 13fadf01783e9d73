"""Fixtures: two real PostgreSQL 15 shards with tenants, and shardgate processes in front.

Shards (session-wide): s1 holds acme and initech, s2 holds globex and benchco. Every tenant
has its own schema tenant_<id> with items rows '<tenant> secret <n>'; each shard also has a
public.items with 'public leak' rows, so a proxy that forgot search_path shows the leak.

    def test_x(proxy):                       # the default proxy of this test module
        with proxy.connect(tenant="acme") as conn: ...
    def test_y(start_proxy, launcher):       # a proxy with a custom config, stopped after the test
        p = start_proxy(launcher.config(tenant={...}))

Environment: SHARDGATE_BIN (default <repo>/build/proxy/shardgate).
"""
from __future__ import annotations

import faulthandler
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
sys.path.insert(0, str(HERE))

import pgshards  # noqa: E402
from proxyctl import TENANT_SHARDS, ProxyLauncher, shardgate_bin  # noqa: E402


def provision_public_leak(shard: pgshards.Shard) -> None:
    """public.items with rows no tenant may see: what an unscoped search_path would return."""
    with shard.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.items (id serial PRIMARY KEY, body text)")
        if conn.execute("SELECT count(*) FROM public.items").fetchone()[0] == 0:
            conn.execute("INSERT INTO public.items (body) VALUES ('public leak 1'), ('public leak 2')")


@pytest.fixture(scope="session")
def cluster():
    cluster = pgshards.ShardCluster()
    yield cluster
    cluster.cleanup()


@pytest.fixture(scope="session")
def shards(cluster) -> dict:
    """{'s1': Shard, 's2': Shard}, provisioned with TENANT_SHARDS."""
    started = {name: cluster.start_shard(name) for name in ("s1", "s2")}
    for shard in started.values():
        provision_public_leak(shard)
    for tenant, shard_name in TENANT_SHARDS.items():
        pgshards.provision_tenant(started[shard_name], tenant)
    return started


@pytest.fixture(scope="session")
def auth_shards(cluster) -> dict:
    """Shards whose host auth is not SCRAM: {'s_md5': md5 (md5-hashed password), 's_trust': trust},
    with tenant umbrella on s_md5 and wayne on s_trust."""
    started = {"s_md5": cluster.start_shard("s_md5", host_auth="md5"),
               "s_trust": cluster.start_shard("s_trust", host_auth="trust")}
    pgshards.provision_tenant(started["s_md5"], "umbrella")
    pgshards.provision_tenant(started["s_trust"], "wayne")
    return started


@pytest.fixture(scope="session")
def binary() -> Path:
    path = shardgate_bin()
    if not path.exists():
        pytest.fail(f"shardgate binary not found at {path}: build it (bash scripts/build.sh) "
                    f"or set SHARDGATE_BIN", pytrace=False)
    return path


@pytest.fixture(scope="session")
def launcher(request, shards, binary):
    launcher = ProxyLauncher(shards, binary)
    yield launcher
    launcher.cleanup(keep=request.session.testsfailed > 0)


def _stop_and_check(launcher: ProxyLauncher, proxies) -> None:
    failures = [f for f in (launcher.stop(p) for p in proxies) if f]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture(scope="module")
def proxy(launcher):
    """The default proxy (base config, default directory) shared by one test module."""
    p = launcher.start()
    yield p
    _stop_and_check(launcher, [p])


@pytest.fixture
def start_proxy(launcher):
    """start_proxy(config=None, directory=None) -> Proxy; stopped (and checked) after the test."""
    started = []

    def start(config: dict | None = None, directory: dict | None = None, wait: bool = True):
        p = launcher.start(config, directory, wait=wait)
        started.append(p)
        return p

    yield start
    _stop_and_check(launcher, started)


TEST_TIME_LIMIT_S = 180


@pytest.fixture(autouse=True)
def _bounded_test_time():
    """A hung test (e.g. a proxy that never answers a query) ends the run with tracebacks
    instead of hanging CI."""
    faulthandler.dump_traceback_later(TEST_TIME_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def _dump_proxy_logs_on_failure(request):
    """On a failing test, print the tail of every live proxy's log (shown by pytest)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "launcher" in request.fixturenames:
        launcher = request.getfixturevalue("launcher")
        for p in launcher.proxies:
            print(f"\n--- shardgate log (port {p.port}, {p.log_path}) ---\n{p.log()[-8000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
