"""GET /metrics (SPEC.md "Metrics", docs/observability.md): the names are there and pass
`promtool check metrics` under load; a real Prometheus server scrapes shardgate and reports
per-tenant query counts equal to what was sent; the per-tenant series cap holds with 5,000
tenants; a tenant dropped from the directory loses its series; tiers can ask for (or refuse)
series of their own."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest

import pgshards
import pgwire
from proxyctl import APP_PASSWORD, TENANT_SHARDS, directory_for, write_json_yaml

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

SPEC_FAMILIES = {
    "shardgate_client_connections": "gauge",
    "shardgate_tenant_queries_total": "counter",
    "shardgate_tenant_query_duration_seconds": "histogram",
    "shardgate_tenant_rate_limited_total": "counter",
    "shardgate_tenant_errors_total": "counter",
    "shardgate_pool_server_connections": "gauge",
    "shardgate_pool_waiting_clients": "gauge",
    "shardgate_pool_wait_duration_seconds": "histogram",
    "shardgate_shard_up": "gauge",
    "shardgate_directory_tenants": "gauge",
    "shardgate_admin_commands_total": "counter",
}

TENANT_FAMILIES = ("shardgate_tenant_queries_total", "shardgate_tenant_rate_limited_total",
                   "shardgate_tenant_errors_total", "shardgate_tenant_query_duration_seconds_count")


# --- helpers -------------------------------------------------------------------------------------
def metrics_config(launcher, per_tenant_series: int = 1000, **top_level) -> tuple[dict, int]:
    port = pgshards.free_port()
    config = launcher.config(metrics={"listen": f"127.0.0.1:{port}",
                                      "per_tenant_series": per_tenant_series}, **top_level)
    return config, port


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict, float]]:
    """(name, labels, value) of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        out.append((name, dict(LABEL.findall(labels)), float(value)))
    return out


def by_tenant(text: str, name: str = "shardgate_tenant_queries_total") -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for n, labels, value in samples(text):
        if n == name:
            totals[labels["tenant"]] += value
    return dict(totals)


def run_queries(proxy, tenant: str, count: int, sql: str = "SELECT 1") -> None:
    # No automatic server-side prepare: one request (one Sync) per statement, so the latency
    # histogram counts exactly `count` requests too.
    with psycopg.connect(proxy.conninfo(tenant), autocommit=True, prepare_threshold=None) as conn:
        for _ in range(count):
            conn.execute(sql)


def transaction_tier(**extra) -> dict:
    return {"pool": "shared", "pool_size": 10, "pool_mode": "transaction", **extra}


# --- names and promtool --------------------------------------------------------------------------
def test_scrape_under_load_passes_promtool(start_proxy, launcher, tmp_path):
    config, port = metrics_config(launcher)
    proxy = start_proxy(config)
    stop = threading.Event()
    errors: list[BaseException] = []

    def load(tenant: str) -> None:
        try:
            with proxy.connect(tenant=tenant) as conn:
                deadline = time.monotonic() + 20
                while not stop.is_set() and time.monotonic() < deadline:
                    conn.execute("SELECT 1")
                    try:
                        conn.execute("SELECT no_such_column")
                    except Exception:
                        pass
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=load, args=(t,)) for t in ("acme", "globex", "initech")]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        texts = []
        for _ in range(3):
            texts.append(scrape(port))
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    text = texts[-1]
    for name, kind in SPEC_FAMILIES.items():
        assert f"# TYPE {name} {kind}" in text, (name, text[:3000])
    path = tmp_path / "scrape.txt"
    for i, t in enumerate(texts):
        path.write_text(t)
        checked = subprocess.run([PROMTOOL, "check", "metrics"], input=t, capture_output=True,
                                 text=True, timeout=30)
        assert checked.returncode == 0, (i, checked.stdout, checked.stderr)

    queries = by_tenant(text)
    assert queries.get("acme", 0) > 0 and queries.get("globex", 0) > 0, queries
    errors_42 = [v for n, labels, v in samples(text) if n == "shardgate_tenant_errors_total"
                 and labels["tenant"] == "acme" and labels["sqlstate_class"] == "42"]
    assert errors_42 and errors_42[0] > 0
    # Histograms: sub-millisecond buckets, cumulative, +Inf equals the count.
    les = [labels["le"] for n, labels, _ in samples(text)
           if n == "shardgate_tenant_query_duration_seconds_bucket" and labels["tenant"] == "acme"]
    assert les[0] == "0.0001" and "0.0005" in les and les[-1] == "+Inf", les
    acme_inf = [v for n, labels, v in samples(text) if n == "shardgate_tenant_query_duration_seconds_bucket"
                and labels["tenant"] == "acme" and labels["le"] == "+Inf"][0]
    acme_count = [v for n, labels, v in samples(text) if n == "shardgate_tenant_query_duration_seconds_count"
                  and labels["tenant"] == "acme"][0]
    assert acme_inf == acme_count > 0
    pools = {(labels["pool"], labels["state"]) for n, labels, _ in samples(text)
             if n == "shardgate_pool_server_connections"}
    assert ("s1/default", "active") in pools and ("s2/default", "idle") in pools, pools
    waits = [v for n, labels, v in samples(text)
             if n == "shardgate_pool_wait_duration_seconds_count" and labels["pool"] == "s1/default"]
    assert waits and waits[0] >= 1
    up = {labels["shard"]: v for n, labels, v in samples(text) if n == "shardgate_shard_up"}
    assert up == {"s1": 1.0, "s2": 1.0}
    assert [v for n, _, v in samples(text) if n == "shardgate_directory_tenants"] == [len(TENANT_SHARDS)]
    clients = {labels["tier"]: v for n, labels, v in samples(text) if n == "shardgate_client_connections"}
    assert clients.get("default") == 3.0, clients


def test_shard_up_is_zero_for_an_unreachable_shard(start_proxy, launcher, shards):
    config, port = metrics_config(launcher)
    dead_port = pgshards.free_port()
    config["shards"]["dead"] = {"host": "127.0.0.1", "port": dead_port, "dbname": "app",
                                "user": "shardgate", "password": "x"}
    directory = directory_for(TENANT_SHARDS)
    directory["tenants"]["ghost"] = {"shard": "dead", "tier": "default"}
    proxy = start_proxy(config, directory)
    up = {labels["shard"]: v for n, labels, v in samples(scrape(port)) if n == "shardgate_shard_up"}
    assert up == {"s1": 1.0, "s2": 1.0, "dead": 0.0}
    with pytest.raises(Exception):
        run_queries(proxy, "ghost", 1)  # the pool's failed connect is the evidence now
    up = {labels["shard"]: v for n, labels, v in samples(scrape(port)) if n == "shardgate_shard_up"}
    assert up["dead"] == 0.0


# --- a real Prometheus server --------------------------------------------------------------------
class PrometheusServer:
    def __init__(self, target_port: int):
        self.dir = Path(tempfile.mkdtemp(prefix="sg-prometheus-", dir="/tmp"))
        self.port = pgshards.free_port()
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "scrape_configs": [{"job_name": "shardgate",
                                      "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}]}
        config_path = write_json_yaml(self.dir / "prometheus.yml", config)
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config_path}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def get(self, path: str, **params) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"prometheus not ready within {timeout}s:\n{self.log_text()}")

    def query(self, expr: str) -> list[dict]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def log_text(self) -> str:
        return (self.dir / "prometheus.log").read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_prometheus_server_sees_per_tenant_query_counts(start_proxy, launcher):
    config, port = metrics_config(launcher)
    proxy = start_proxy(config)
    prometheus = PrometheusServer(port)
    try:
        prometheus.wait_ready()
        sent = {"acme": 7, "globex": 13, "initech": 3}
        for tenant, count in sent.items():
            run_queries(proxy, tenant, count)
        deadline = time.monotonic() + 30
        seen: dict[str, float] = {}
        while time.monotonic() < deadline:
            result = prometheus.query("shardgate_tenant_queries_total")
            seen = {r["metric"]["tenant"]: float(r["value"][1]) for r in result}
            if all(seen.get(t) == float(n) for t, n in sent.items()):
                break
            time.sleep(0.5)
        assert {t: seen.get(t) for t in sent} == {t: float(n) for t, n in sent.items()}, \
            (seen, prometheus.log_text())
        assert all(r["metric"]["job"] == "shardgate" for r in result)
        # The scrape itself is healthy and the histogram is usable in PromQL.
        assert float(prometheus.query('up{job="shardgate"}')[0]["value"][1]) == 1.0
        counts = prometheus.query('sum by (tenant) (shardgate_tenant_query_duration_seconds_count)')
        assert {r["metric"]["tenant"]: float(r["value"][1]) for r in counts}["globex"] == 13.0
    finally:
        prometheus.stop()


# --- the cardinality cap -------------------------------------------------------------------------
def switch_and_query(proxy, tenants: list[str], chunk: int = 100) -> int:
    """On one raw connection: SET shardgate.tenant + SELECT 1 per tenant, pipelined by chunks.
    Returns the number of SELECTs that succeeded."""
    done = 0
    with pgwire.RawConnection(proxy.host, proxy.port, timeout=30) as conn:
        conn.startup("app", APP_PASSWORD)
        for i in range(0, len(tenants), chunk):
            part = tenants[i:i + chunk]
            conn.send(b"".join(pgwire.message(b"Q", pgwire.cstr(f"SET shardgate.tenant = '{t}'"))
                               + pgwire.message(b"Q", pgwire.cstr("SELECT 1")) for t in part))
            ready, errors = 0, []
            while ready < 2 * len(part):
                msg = conn.read_message()
                if msg.type == b"Z":
                    ready += 1
                elif msg.type == b"E":
                    errors.append(pgwire.parse_error_fields(msg.body))
            assert not errors, errors[:3]
            done += len(part)
        conn.terminate()
    return done


def cap_config(launcher, cap: int) -> tuple[dict, int]:
    config, port = metrics_config(launcher, per_tenant_series=cap)
    config["tiers"] = {"default": transaction_tier()}
    config["directory"] = {"default_placement": {"hash": ["s1", "s2"], "tier": "default"}}
    return config, port


def tenant_labels(text: str) -> set[str]:
    return {labels["tenant"] for n, labels, _ in samples(text) if "tenant" in labels}


def test_cardinality_cap_holds_with_5000_tenants(start_proxy, launcher):
    cap = 50
    config, port = cap_config(launcher, cap)
    proxy = start_proxy(config)
    started = time.monotonic()
    hot = [f"hot{i}" for i in range(10)]
    for tenant in hot:
        run_queries(proxy, tenant, 20)
    cold = [f"t{i:04d}" for i in range(5000)]
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(part):
        try:
            results.append(switch_and_query(proxy, part))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(cold[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    sent = 20 * len(hot) + sum(results)
    assert sum(results) == len(cold)

    text = scrape(port)
    labels = tenant_labels(text)
    assert "_other" in labels
    assert len(labels - {"_other"}) <= cap, len(labels)
    queries = by_tenant(text)
    assert sum(queries.values()) == sent, (sum(queries.values()), sent)
    # The busiest tenants got their own series, with every query they sent.
    assert all(queries.get(t) == 20.0 for t in hot), {t: queries.get(t) for t in hot}
    durations = by_tenant(text, "shardgate_tenant_query_duration_seconds_count")
    assert sum(durations.values()) == sent
    other_before = queries["_other"]

    # Sticky: later traffic from other tenants does not move series around; _other only grows.
    switch_and_query(proxy, [f"late{i}" for i in range(200)])
    text2 = scrape(port)
    assert tenant_labels(text2) == labels
    queries2 = by_tenant(text2)
    assert queries2["_other"] == other_before + 200
    assert sum(queries2.values()) == sent + 200
    assert len(text2) < 2_000_000
    assert time.monotonic() - started < 90


def test_dropped_tenant_series_disappear(start_proxy, launcher):
    config, port = metrics_config(launcher)
    proxy = start_proxy(config)
    for tenant, n in (("acme", 5), ("globex", 4), ("initech", 2)):
        run_queries(proxy, tenant, n)
    text = scrape(port)
    assert by_tenant(text) == {"acme": 5.0, "globex": 4.0, "initech": 2.0}

    directory = directory_for({t: s for t, s in TENANT_SHARDS.items() if t != "acme"})
    write_json_yaml(proxy.dir / "directory.yaml", directory)
    proxy.reload()
    text = scrape(port)
    assert "acme" not in tenant_labels(text)
    # Its counts stay in the totals, under _other: counters do not go backwards.
    assert by_tenant(text) == {"globex": 4.0, "initech": 2.0, "_other": 5.0}
    assert [v for n, _, v in samples(text) if n == "shardgate_directory_tenants"] == [len(TENANT_SHARDS) - 1]


def test_tiers_ask_for_or_refuse_series_of_their_own(start_proxy, launcher):
    config, port = metrics_config(launcher, per_tenant_series=1)
    config["tiers"] = {"default": transaction_tier(),
                       "vip": transaction_tier(tenant_series="always"),
                       "bulk": transaction_tier(tenant_series="never")}
    directory = directory_for(TENANT_SHARDS)
    directory["tenants"]["acme"]["tier"] = "vip"
    directory["tenants"]["initech"]["tier"] = "bulk"
    proxy = start_proxy(config, directory)

    run_queries(proxy, "initech", 9)   # busiest, but its tier says never
    run_queries(proxy, "globex", 4)
    text = scrape(port)
    series = {(labels["tenant"], labels["tier"]): v for n, labels, v in samples(text)
              if n == "shardgate_tenant_queries_total"}
    assert series == {("globex", "default"): 4.0, ("_other", "bulk"): 9.0}

    run_queries(proxy, "acme", 1)  # a vip tenant takes the only slot from globex
    text = scrape(port)
    series = {(labels["tenant"], labels["tier"]): v for n, labels, v in samples(text)
              if n == "shardgate_tenant_queries_total"}
    assert series == {("acme", "vip"): 1.0, ("_other", "bulk"): 9.0, ("_other", "default"): 4.0}


def test_admin_commands_are_counted_by_command_and_result(start_proxy, launcher):
    from admin_helpers import admin_error, admin_ok
    config, port = metrics_config(launcher)
    proxy = start_proxy(config, directory_for({"acme": "s1"}))
    admin_ok(proxy, "SHOW TENANTS")
    admin_ok(proxy, "SHOW TENANTS LIKE 'a%'")
    admin_error(proxy, "RESUME TENANT acme")  # not paused: an error
    admin_error(proxy, "SELECT 1")            # not a command at all
    counts = {(labels["command"], labels["result"]): value
              for name, labels, value in samples(scrape(port))
              if name == "shardgate_admin_commands_total"}
    assert counts[("SHOW TENANTS", "ok")] == 2
    assert counts[("RESUME TENANT", "error")] == 1
    assert counts[("UNKNOWN", "error")] == 1
    assert ("RESUME TENANT", "ok") not in counts or counts[("RESUME TENANT", "ok")] == 0
