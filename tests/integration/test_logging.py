"""Logs: with log.format json every line is a JSON object, and session lines carry tenant,
shard and client."""
import json
import time


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
