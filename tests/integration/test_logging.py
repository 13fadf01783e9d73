"""Logs: with log.format json every line is a JSON object, and session lines carry tenant,
shard, client and session id; connection and authentication events are logged; a tier's
slow_query_threshold logs slow statements (text cut short, parameters never)."""
import json
import time

import psycopg
import pytest

from proxyctl import TENANT_SHARDS, directory_for


def test_json_log_lines_carry_tenant_shard_client(start_proxy, launcher, shards):
    proxy = start_proxy(launcher.config(log={"level": "info", "format": "json"}))
    with proxy.connect(tenant="globex") as conn:
        conn.execute("SELECT 1")
    deadline = time.monotonic() + 5
    while True:
        records = [json.loads(line) for line in proxy.log().splitlines() if line.strip()]
        tagged = [r for r in records if r.get("tenant") == "globex"]
        if tagged or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert tagged, proxy.log()
    assert any(r.get("shard") == "s2" and r.get("client", "").startswith("127.0.0.1") for r in tagged), tagged


def json_records(proxy) -> list[dict]:
    """Every log line, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in proxy.log().splitlines() if line.strip()]


def wait_for_record(proxy, predicate, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = json_records(proxy)
        if any(predicate(r) for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_connection_and_auth_events_carry_client_session_and_tenant(start_proxy, launcher):
    proxy = start_proxy(launcher.config(log={"level": "info", "format": "json"}))
    with proxy.connect(tenant="acme") as conn:
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        proxy.connect(tenant="globex", password="wrong-password")
    records = wait_for_record(proxy, lambda r: r["msg"] == "client disconnected")
    by_msg = {}
    for r in records:
        by_msg.setdefault(r["msg"], []).append(r)
        assert {"time", "level", "msg"} <= r.keys(), r
    authenticated = by_msg["client authenticated"][0]
    connected = by_msg["client connected"][0]
    disconnected = by_msg["client disconnected"][0]
    failed = by_msg["authentication failed"][0]
    for r in (authenticated, connected, disconnected):
        assert r["tenant"] == "acme" and r["user"] == "app", r
        assert r["client"].startswith("127.0.0.1:"), r
        assert r["session"] == authenticated["session"], r
    assert authenticated["method"] == "scram-sha-256"
    assert connected["shard"] == "s1" and disconnected["shard"] == "s1"
    assert float(disconnected["duration_s"]) >= 0
    assert failed["level"] == "warning" and failed["sqlstate"] == "28P01", failed
    assert failed["tenant"] == "globex" and failed["client"].startswith("127.0.0.1:")
    assert failed["session"] != authenticated["session"]
    assert "wrong-password" not in proxy.log()


def slow_config(launcher, pool_mode: str) -> dict:
    config = launcher.config(log={"level": "info", "format": "json"})
    config["tiers"] = {
        "default": {"pool": "shared", "pool_size": 5, "pool_mode": pool_mode},
        "watched": {"pool": "shared", "pool_size": 5, "pool_mode": pool_mode,
                    "slow_query_threshold": "50ms"},
    }
    return config


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_slow_statements_are_logged_with_tenant_and_truncated_text_never_parameters(
        start_proxy, launcher, pool_mode):
    directory = directory_for(TENANT_SHARDS)
    directory["tenants"]["acme"]["tier"] = "watched"
    proxy = start_proxy(slow_config(launcher, pool_mode), directory)
    long_comment = "x" * 400
    secret = "SECRET-PARAM-4711"
    with psycopg.connect(proxy.conninfo("acme"), autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SELECT 1")  # fast: not logged
        conn.execute(f"SELECT pg_sleep(0.1) /* {long_comment} */")
        conn.execute("SELECT pg_sleep(%s), %s::text AS tagged", (0.1, secret))
        conn.execute("SELECT pg_sleep(%s), %s::text AS prepared", (0.1, secret), prepare=True)
    with psycopg.connect(proxy.conninfo("globex"), autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.1)")  # its tier logs no slow statements
    records = wait_for_record(proxy, lambda r: r["msg"] == "slow statement"
                              and "prepared" in r.get("statement", ""))
    slow = [r for r in records if r["msg"] == "slow statement"]
    assert len(slow) == 3, slow
    for r in slow:
        assert r["tenant"] == "acme" and r["shard"] == "s1" and r["level"] == "warning", r
        assert r["client"].startswith("127.0.0.1:") and r["session"], r
        assert float(r["duration_ms"]) >= 100 and r["threshold_ms"] == "50", r
        assert len(r["statement"]) <= 200, r
    assert slow[0]["statement"].startswith("SELECT pg_sleep(0.1) /* xxx")
    assert slow[0]["truncated"] == "true"
    assert slow[1]["statement"] == "SELECT pg_sleep($1), $2::text AS tagged"
    assert slow[1]["truncated"] == "false"
    assert slow[2]["statement"] == "SELECT pg_sleep($1), $2::text AS prepared"
    assert secret not in proxy.log()
