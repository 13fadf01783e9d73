"""pgbench through shardgate: -i lands in the tenant's schema on its shard; -S with 20 clients
in simple, extended and prepared modes has zero failed transactions."""
import re

import pytest

from proxyctl import APP_PASSWORD, run_tool

TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers")


@pytest.fixture(scope="module")
def initialized(proxy, shards):
    """pgbench -i -s 1 for tenant benchco (on s2), tenant passed by user-name suffix."""
    env = proxy.libpq_env(user="app.benchco", password=APP_PASSWORD)
    out = run_tool(["pgbench", "-i", "-s", "1", "-q"], env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_pgbench_init_creates_tables_in_tenant_schema_on_its_shard(initialized, shards):
    s1, s2 = shards["s1"], shards["s2"]
    for table in TABLES:
        assert s2.scalar("SELECT to_regclass(%s) IS NOT NULL", (f"tenant_benchco.{table}",)), table
        for shard in (s1, s2):
            assert shard.scalar("SELECT to_regclass(%s) IS NULL", (f"public.{table}",)), table
        assert s1.scalar("SELECT to_regclass(%s) IS NULL", (f"tenant_benchco.{table}",)), table
    assert s2.scalar("SELECT count(*) FROM tenant_benchco.pgbench_accounts") == 100_000
    assert s2.scalar("SELECT count(*) FROM tenant_benchco.pgbench_branches") == 1


def parse_pgbench(output: str) -> tuple[int, int]:
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert processed, output
    return int(processed.group(1)), int(failed.group(1)) if failed else 0


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_select_only_20_clients(initialized, proxy, mode):
    env = proxy.libpq_env(tenant="benchco")  # tenant in PGOPTIONS this time
    out = run_tool(["pgbench", "-S", "-c", "20", "-j", "2", "-T", "5", "-M", mode, "-n"], env,
                   timeout=60)
    output = out.stdout + out.stderr
    assert out.returncode == 0, output
    processed, failed = parse_pgbench(output)
    assert failed == 0, output
    assert processed > 100, output
    assert "aborted" not in output, output
