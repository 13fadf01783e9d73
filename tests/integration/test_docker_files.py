"""Checks the docker/ stack without Docker: every file is parsed, cross-checked and, where a
tool exists for it, validated by that tool (shardgate --check-config, promtool).

    /usr/bin/python3 -m pytest -q tests/integration/test_docker_files.py

Nothing here skips: CI installs promtool and python3-yaml with scripts/install-deps.sh, so a
missing tool is a failure. The shardgate binary comes from SHARDGATE_BIN (default
<repo>/build/proxy/shardgate), as in the rest of the integration suite (conftest.py).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "shardgate.json"
PROMETHEUS_YML = DOCKER / "prometheus.yml"
SHARDGATE_YAML = DOCKER / "shardgate.yaml"
CONFIG_IN_CONTAINER = "/etc/shardgate/shardgate.yaml"

# SPEC.md "Metrics": the stable metric names, with their labels. Histograms also expose
# <name>_bucket (label le), <name>_sum and <name>_count.
SPEC_COUNTERS_AND_GAUGES = {
    "shardgate_client_connections": {"tier"},
    "shardgate_tenant_queries_total": {"tenant", "tier"},
    "shardgate_tenant_rate_limited_total": {"tenant", "tier"},
    "shardgate_tenant_errors_total": {"tenant", "tier", "sqlstate_class"},
    "shardgate_pool_server_connections": {"shard", "pool", "state"},
    "shardgate_pool_waiting_clients": {"shard", "pool"},
    "shardgate_shard_up": {"shard"},
    "shardgate_directory_tenants": set(),
    "shardgate_admin_commands_total": {"command", "result"},
}
SPEC_HISTOGRAMS = {
    "shardgate_tenant_query_duration_seconds": {"tenant", "tier"},
    "shardgate_pool_wait_duration_seconds": {"shard", "pool"},
}
SPEC_METRIC_NAMES = set(SPEC_COUNTERS_AND_GAUGES) | {
    name + suffix for name in SPEC_HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
SPEC_LABELS = set().union(*SPEC_COUNTERS_AND_GAUGES.values(), *SPEC_HISTOGRAMS.values(), {"le"})

# What the issue asks the dashboard to show, verbatim.
REQUIRED_QUERY_PARTS = [
    "rate(shardgate_tenant_queries_total[1m])",
    "histogram_quantile(0.99, sum by (le, tenant) "
    "(rate(shardgate_tenant_query_duration_seconds_bucket[5m])))",
    "shardgate_tenant_rate_limited_total",
    'shardgate_pool_server_connections{state="active"}',
    "shardgate_pool_waiting_clients",
]


# --- helpers -----------------------------------------------------------------------------
def load_yaml(path: Path):
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose() -> dict:
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), \
        f"{COMPOSE}: no services mapping"
    return data


@pytest.fixture(scope="module")
def shardgate_config() -> dict:
    return load_yaml(SHARDGATE_YAML)


def service_env(service: dict) -> dict[str, str]:
    """A compose service's `environment`, as a dict (mapping or list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    for name, value in env.items():
        assert "$" not in str(value), f"environment {name}: interpolation is not checked here"
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def bind_mounts(service: dict) -> list[tuple[Path, str]]:
    """(host path resolved against docker/, container path) of every bind mount."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append(((DOCKER / volume["source"]).resolve(), volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts.append(((DOCKER / source).resolve(), target))
    return mounts


def named_volumes(service: dict) -> list[str]:
    return [name for name, _, _ in named_volume_mounts(service)]


def named_volume_mounts(service: dict) -> list[tuple[str, str, dict]]:
    """(volume name, container path, options) of every named-volume mount. Options: read_only
    and nocopy, from the long syntax or the short syntax's third field ("ro", "nocopy")."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "volume":
                mounts.append((volume["source"], volume["target"], {
                    "read_only": bool(volume.get("read_only")),
                    "nocopy": bool((volume.get("volume") or {}).get("nocopy"))}))
        elif ":" in volume and not volume.startswith((".", "/", "~")):
            parts = volume.split(":")
            flags = set(parts[2].split(",")) if len(parts) > 2 else set()
            mounts.append((parts[0], parts[1], {"read_only": "ro" in flags,
                                                "nocopy": "nocopy" in flags}))
    return mounts


def host_path_of(service: dict, container_path: str) -> Path | None:
    """The host file behind `container_path`, through a file or folder bind mount."""
    for host, target in bind_mounts(service):
        if container_path == target:
            return host
        if container_path.startswith(target.rstrip("/") + "/"):
            return host / container_path[len(target.rstrip("/")) + 1:]
    return None


def port_of(address: str) -> int:
    return int(str(address).rsplit(":", 1)[-1])


def published_container_ports(service: dict) -> set[int]:
    ports = set()
    for entry in (service.get("ports") or []) + (service.get("expose") or []):
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def shard_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items()
            if str(svc.get("image", "")).startswith("postgres:")}


def dashboard_panels(panels: list) -> list[dict]:
    """Every panel, rows' nested panels included."""
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(dashboard_panels(panel.get("panels") or []))
    return out


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every panel target and templating query."""
    queries = []
    for panel in dashboard_panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            queries.append((panel.get("title", "?"), target.get("expr", "")))
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            queries.append((f"variable {variable.get('name')}", query))
    return queries


PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "offset", "bool", "inf", "nan", "atan2"}


def promql_metric_names(expr: str) -> list[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, keywords, label names, durations or numbers."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)   # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)                                  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                 # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        word = match.group(0)
        before = s[match.start() - 1] if match.start() > 0 else " "
        if before.isdigit() or before == ".":          # 1e3, 5m after offset
            continue
        if s[match.end():].lstrip().startswith("("):  # function or aggregation
            continue
        if word.lower() in PROMQL_KEYWORDS:
            continue
        names.append(word)
    # Metric names written as {__name__="..."}.
    names += re.findall(r'__name__\s*=~?\s*"([^"]*)"', expr)
    return names


def promql_label_names(expr: str) -> set[str]:
    labels = set()
    for group in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", group))
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)",
                            expr):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    return labels - {"__name__"}


def directory_file(shardgate_config: dict) -> str:
    """directory.file as the container sees it."""
    path = str(shardgate_config["directory"]["file"])
    return path if path.startswith("/") else str(Path(CONFIG_IN_CONTAINER).parent / path)


def runtime_stage() -> list[tuple[str, str]]:
    """The Dockerfile's instructions from the last FROM on."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM")
    return instructions[last_from:]


def copy_args(args: str) -> tuple[dict[str, str], list[str], str]:
    """A COPY/ADD's (--flags, sources, destination), shell form only."""
    words = args.split()
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def copy_destinations(flags_sources_dest: tuple[dict[str, str], list[str], str]) -> list[str]:
    """Where each source of a COPY lands (a destination ending in / is a folder)."""
    _, sources, dest = flags_sources_dest
    if dest.endswith("/"):
        return [dest + Path(source).name for source in sources]
    return [dest] * len(sources)


def directory_seed(shardgate_config: dict) -> Path:
    """The repository file the runtime stage copies to directory.file: what the named volume
    over its folder starts as."""
    target = directory_file(shardgate_config)
    seeds = []
    for ins, args in runtime_stage():
        if ins in ("COPY", "ADD") and "--from=" not in args:
            parsed = copy_args(args)
            seeds += [REPO / source for source, dest in zip(parsed[1], copy_destinations(parsed))
                      if dest == target]
    assert len(seeds) == 1, f"Dockerfile: want one COPY to {target} in the runtime stage, {seeds}"
    return seeds[0]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


# --- compose -----------------------------------------------------------------------------
def test_compose_has_the_services(compose):
    services = compose["services"]
    for name in ("shardgate", "prometheus", "grafana"):
        assert name in services, f"compose.yaml: no service {name!r}"
    shards = shard_services(compose)
    assert len(shards) == 2, f"compose.yaml: want two PostgreSQL shards, found {sorted(shards)}"
    for name, svc in shards.items():
        assert svc["image"] == "postgres:15", f"{name}: image {svc['image']!r}, want postgres:15"
    assert "build" in services["shardgate"], "shardgate must be built from docker/Dockerfile"
    assert "prom/prometheus" in services["prometheus"]["image"]
    assert "grafana/grafana" in services["grafana"]["image"]


def test_compose_mounts_and_build_files_exist(compose):
    declared_volumes = set((compose.get("volumes") or {}).keys())
    checked = 0
    for name, svc in compose["services"].items():
        for host, target in bind_mounts(svc):
            assert host.exists(), f"service {name}: mounts {host} (at {target}), which is missing"
            assert REPO in host.parents, f"service {name}: {host} is outside the repository"
            checked += 1
        for volume in named_volumes(svc):
            assert volume in declared_volumes, f"service {name}: volume {volume!r} not declared"
        for env_file in ([svc["env_file"]] if isinstance(svc.get("env_file"), str)
                         else svc.get("env_file") or []):
            assert (DOCKER / env_file).exists(), f"service {name}: env_file {env_file} missing"
        build = svc.get("build")
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            context = (DOCKER / build.get("context", ".")).resolve()
            assert context.is_dir(), f"service {name}: build context {context} missing"
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"service {name}: Dockerfile {dockerfile} missing"
            assert dockerfile.resolve() == DOCKERFILE, f"service {name}: builds {dockerfile}"
            checked += 1
    assert checked >= 8


def test_shards_are_initialised_with_the_directory_tenants(compose, shardgate_config):
    """Each shard's init SQL creates the schema of every tenant the directory places on it,
    and shardgate's shard entries match the PostgreSQL containers' user, database, password."""
    shards = shard_services(compose)
    gate = compose["services"]["shardgate"]
    gate_env = service_env(gate)
    tenants = load_yaml(directory_seed(shardgate_config))["tenants"]
    template = shardgate_config.get("tenant", {}).get("schema_template", "tenant_{tenant}")
    assert set(shardgate_config["shards"]) and len(shardgate_config["shards"]) == len(shards)
    for shard_name, entry in shardgate_config["shards"].items():
        host = entry["host"]
        assert host in shards, f"shardgate.yaml: shard {shard_name} host {host!r} is not a shard service"
        env = service_env(shards[host])
        assert entry.get("port", 5432) == 5432
        assert entry.get("dbname") == env["POSTGRES_DB"]
        assert entry.get("user") == env["POSTGRES_USER"]
        password = str(entry.get("password", ""))
        assert password.startswith("env:"), f"shard {shard_name}: password should be env:NAME"
        assert gate_env.get(password[4:]) == env["POSTGRES_PASSWORD"], \
            f"shard {shard_name}: {password[4:]} in compose differs from {host}'s POSTGRES_PASSWORD"
        init_sql = "\n".join(
            host_path.read_text() for host_path, target in bind_mounts(shards[host])
            if target.startswith("/docker-entrypoint-initdb.d/"))
        assert init_sql, f"{host}: no init SQL mounted in /docker-entrypoint-initdb.d/"
        placed = [t for t, p in tenants.items() if p["shard"] == shard_name]
        assert placed, f"directory.yaml: no tenant on {shard_name}"
        for tenant in placed:
            schema = tenants[tenant].get("schema") or template.replace("{tenant}", tenant)
            assert re.search(rf"CREATE\s+SCHEMA\s+(IF\s+NOT\s+EXISTS\s+)?\"?{re.escape(schema)}\b",
                             init_sql, re.IGNORECASE), \
                f"{host}'s init SQL does not create schema {schema} of tenant {tenant}"


def test_shardgate_service_mounts_config_and_directory(compose, shardgate_config):
    """directory.file lives on a named volume mounted at its folder: the admin socket rewrites
    it with a temp file in that folder renamed over it, which a read-only (or single-file) bind
    mount refuses (58030). The volume must be writable and let Docker copy the image's content
    into it on first use (no nocopy): that is how it gets the seed and its owner (Dockerfile)."""
    gate = compose["services"]["shardgate"]
    assert host_path_of(gate, CONFIG_IN_CONTAINER) == SHARDGATE_YAML
    directory = directory_file(shardgate_config)
    folder = str(Path(directory).parent)
    assert folder != str(Path(CONFIG_IN_CONTAINER).parent), \
        "directory.file shares the folder of the read-only config mount"
    assert host_path_of(gate, directory) is None, \
        f"directory file {directory} is behind a bind mount: admin changes cannot be written"
    for host, target in bind_mounts(gate):
        assert not target.startswith(folder.rstrip("/") + "/"), \
            f"bind mount {host} at {target} sits inside the directory folder {folder}"
    mounts = [(name, options) for name, target, options in named_volume_mounts(gate)
              if target.rstrip("/") == folder]
    assert len(mounts) == 1, f"shardgate: want one named volume mounted at {folder}"
    name, options = mounts[0]
    assert name in (compose.get("volumes") or {}), f"volume {name!r} is not declared"
    assert not options["read_only"], f"volume {name} at {folder} is read-only"
    assert not options["nocopy"], f"volume {name}: nocopy keeps the image's seed out of it"
    assert not any(target.rstrip("/") == folder or folder.startswith(target.rstrip("/") + "/")
                   for other, target, _ in named_volume_mounts(gate) if other != name), \
        f"another volume covers {folder}"
    published = published_container_ports(gate)
    assert port_of(shardgate_config["listen"]) in published
    assert port_of(shardgate_config["metrics"]["listen"]) in published
    command = gate.get("command")
    if command is not None:
        command = command.split() if isinstance(command, str) else command
        assert command == ["--config", CONFIG_IN_CONTAINER]


# --- shardgate config --------------------------------------------------------------------
def test_shardgate_check_config_passes(compose, shardgate_config, binary, tmp_path):
    """The real binary validates docker/shardgate.yaml and its directory with exactly the
    environment compose gives the container (plus PATH).

    directory.file is /var/lib/shardgate/directory.yaml, on the compose volume; it does not
    exist on the host, and shardgate takes a missing directory file for an empty directory, so
    checking docker/shardgate.yaml as is would pass without reading any tenant. The check runs
    on a temp copy of docker/shardgate.yaml that differs only in directory.file, pointed at the
    seed the image copies there (docker/directory.yaml), and the tenant count it reports must
    be the seed's."""
    text = SHARDGATE_YAML.read_text()
    seed = directory_seed(shardgate_config)
    pattern = re.compile(r"^(directory:\s*\n(?:[ \t]+#.*\n)*[ \t]+file:[ \t]*)(\S+)", re.MULTILINE)
    assert len(pattern.findall(text)) == 1, "docker/shardgate.yaml: directory.file not found"
    copy = tmp_path / "shardgate.yaml"
    copy.write_text(pattern.sub(lambda m: m.group(1) + json.dumps(str(seed)), text))
    expected = dict(shardgate_config, directory=dict(shardgate_config["directory"], file=str(seed)))
    assert load_yaml(copy) == expected, "the temp copy differs in more than directory.file"

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(service_env(compose["services"]["shardgate"]))
    result = subprocess.run([str(binary), "--check-config", str(copy)], env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, \
        f"shardgate --check-config failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    tenants = len(load_yaml(seed)["tenants"])
    assert f", {tenants} tenants)" in result.stdout, \
        f"want the seed's {tenants} tenants loaded: {result.stdout}"


def test_provisioning_creates_the_sample_tenants_tables(compose, shardgate_config):
    """CREATE TENANT on the admin socket runs provisioning.schema_sql: it must create the same
    tables as the shards' init SQL gives the sample tenants, so a new tenant is usable like
    them (the README's examples and pgbench script query items)."""
    schema_sql = (shardgate_config.get("provisioning") or {}).get("schema_sql")
    assert schema_sql, "docker/shardgate.yaml: no provisioning.schema_sql (default: schema only)"

    def statements(sql: str) -> list[str]:
        sql = re.sub(r"--[^\n]*", "", sql)
        return [" ".join(s.split()) for s in sql.split(";") if s.strip()]

    def tables(sql: str, schema: str) -> set[str]:
        """CREATE TABLE statements on `schema`, with the schema written as {schema}."""
        name = re.compile(rf'(?<![\w"])("{re.escape(schema)}"|{re.escape(schema)})(?=\.)')
        return {name.sub("{schema}", s) for s in statements(sql)
                if re.match(r"CREATE\s+TABLE\b", s, re.IGNORECASE) and name.search(s)}

    assert any(re.fullmatch(r"CREATE\s+SCHEMA\s+(IF\s+NOT\s+EXISTS\s+)?\{schema\}", s, re.I)
               for s in statements(schema_sql)), "schema_sql does not create {schema}"
    provisioned = tables(schema_sql, "{schema}") | {
        s for s in statements(schema_sql) if re.match(r"CREATE\s+TABLE\b", s, re.I)}
    assert provisioned, "schema_sql creates no table"
    template = shardgate_config.get("tenant", {}).get("schema_template", "tenant_{tenant}")
    tenants = load_yaml(directory_seed(shardgate_config))["tenants"]
    shards = shard_services(compose)
    checked = 0
    for tenant, placement in tenants.items():
        schema = placement.get("schema") or template.replace("{tenant}", tenant)
        host = shardgate_config["shards"][placement["shard"]]["host"]
        init_sql = "\n".join(
            host_path.read_text() for host_path, target in bind_mounts(shards[host])
            if target.startswith("/docker-entrypoint-initdb.d/"))
        assert tables(init_sql, schema) == provisioned, \
            f"tenant {tenant}: {host}'s init SQL creates {tables(init_sql, schema)}, " \
            f"CREATE TENANT would create {provisioned}"
        checked += 1
    assert checked == len(tenants) > 0


def test_shardgate_config_serves_metrics_and_admin(shardgate_config):
    assert shardgate_config["metrics"]["listen"] == "0.0.0.0:9187"
    assert shardgate_config["admin"]["socket_dir"]
    assert shardgate_config["listen"].startswith("0.0.0.0:"), "clients come from other containers"


# --- prometheus --------------------------------------------------------------------------
def test_promtool_check_config():
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install it with scripts/install-deps.sh (prometheus)"
    result = subprocess.run([promtool, "check", "config", str(PROMETHEUS_YML)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check config:\n{result.stdout}{result.stderr}"


def test_prometheus_scrapes_shardgate_metrics(compose, shardgate_config):
    config = load_yaml(PROMETHEUS_YML)
    metrics_port = port_of(shardgate_config["metrics"]["listen"])
    jobs = [job for job in config["scrape_configs"]
            if any(target.split(":")[0] == "shardgate"
                   for sc in job.get("static_configs") or [] for target in sc.get("targets") or [])]
    assert len(jobs) == 1, "prometheus.yml: want one job scraping the shardgate service"
    job = jobs[0]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"shardgate:{metrics_port}"], targets
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scheme", "http") == "http"
    prometheus = compose["services"]["prometheus"]
    assert host_path_of(prometheus, "/etc/prometheus/prometheus.yml") == PROMETHEUS_YML


# --- grafana -----------------------------------------------------------------------------
def test_grafana_provisioning(compose):
    grafana = compose["services"]["grafana"]
    prov = DOCKER / "grafana" / "provisioning"
    datasource_files = sorted((prov / "datasources").glob("*.yaml"))
    provider_files = sorted((prov / "dashboards").glob("*.yaml"))
    assert datasource_files and provider_files
    for path in datasource_files + provider_files:
        assert host_path_of(grafana, f"/etc/grafana/provisioning/{path.parent.name}/{path.name}") \
            == path.resolve(), f"{path} is not mounted into Grafana's provisioning folder"
    datasources = [ds for f in datasource_files for ds in load_yaml(f)["datasources"]]
    prometheus_ds = [ds for ds in datasources if ds["type"] == "prometheus"]
    assert len(prometheus_ds) == 1
    assert prometheus_ds[0]["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    providers = [p for f in provider_files for p in load_yaml(f)["providers"]]
    assert len(providers) == 1 and providers[0]["type"] == "file"
    assert host_path_of(grafana, providers[0]["options"]["path"]) == DASHBOARD.parent.resolve(), \
        "the dashboard provider's path is not the mounted docker/grafana/dashboards"

    dashboard = json.loads(DASHBOARD.read_text())
    uids = {ds.get("uid") for ds in datasources}
    for panel in dashboard_panels(dashboard["panels"]):
        for ref in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets") or []]:
            if isinstance(ref, dict):
                assert ref.get("uid") in uids, f"panel {panel.get('title')}: datasource {ref}"


def test_dashboard_is_valid_json_with_spec_metrics_only():
    dashboard = json.loads(DASHBOARD.read_text())  # invalid JSON fails here
    assert dashboard.get("uid") and dashboard.get("title")
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 5
    unknown = []
    for title, expr in queries:
        names = promql_metric_names(expr)
        assert names, f"panel {title!r}: no metric in {expr!r}"
        unknown += [f"{title}: {name}" for name in names if name not in SPEC_METRIC_NAMES]
        labels = promql_label_names(expr)
        assert labels <= SPEC_LABELS, f"panel {title!r}: labels {labels - SPEC_LABELS} not in SPEC"
    assert not unknown, f"metric names not in SPEC.md: {unknown}"
    for panel in dashboard_panels(dashboard["panels"]):
        for target in panel.get("targets") or []:
            legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            assert legend_labels <= SPEC_LABELS, f"panel {panel.get('title')}: legend {legend_labels}"
    joined = "\n".join(expr for _, expr in queries)
    for part in REQUIRED_QUERY_PARTS:
        assert part in joined, f"dashboard lacks the query {part!r}"


def test_dashboard_queries_parse(tmp_path):
    """promtool parses every dashboard query (as recording rules)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install it with scripts/install-deps.sh (prometheus)"
    queries = dashboard_queries(json.loads(DASHBOARD.read_text()))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"shardgate_dashboard_query_{i}", "expr": expr}
        for i, (_, expr) in enumerate(queries)]}]}
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"promtool check rules:\n{result.stdout}{result.stderr}"


def test_metric_name_extraction_catches_unknown_names():
    assert promql_metric_names(
        "histogram_quantile(0.99, sum by (le, tenant) "
        "(rate(shardgate_tenant_query_duration_seconds_bucket{tenant=~\"a.*\"}[5m])))") == \
        ["shardgate_tenant_query_duration_seconds_bucket"]
    assert promql_metric_names('rate(shardgate_tenant_querys_total[1m]) / on (tenant) up') == \
        ["shardgate_tenant_querys_total", "up"]
    assert promql_metric_names("sum(x offset 5m) * 1e3") == ["x"]
    assert "shardgate_tenant_querys_total" not in SPEC_METRIC_NAMES


# --- Dockerfile --------------------------------------------------------------------------
def test_dockerfile_debian12_and_the_readme_scripts():
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert len(froms) >= 2, "want a multi-stage build"
    for args in froms:
        image = [w for w in args.split() if not w.startswith("--")][0]
        assert re.fullmatch(r"debian:(12|bookworm)(-slim)?", image), f"base image {image} is not Debian 12"
    runs = [args for ins, args in instructions if ins == "RUN"]
    install = [i for i, r in enumerate(runs) if "scripts/install-deps.sh" in r]
    build = [i for i, r in enumerate(runs) if "scripts/build.sh" in r]
    assert install and build and install[0] <= build[0], "runs install-deps.sh, then build.sh"
    # The runtime stage (after the last FROM) takes the binary from the build stage.
    runtime = runtime_stage()
    assert any(ins == "COPY" and "--from=" in args and "shardgate" in args for ins, args in runtime)
    assert not any("build.sh" in args or "install-deps.sh" in args for _, args in runtime)
    entry = [json.loads(args) for ins, args in runtime if ins == "ENTRYPOINT"]
    cmd = [json.loads(args) for ins, args in runtime if ins == "CMD"]
    assert (entry[-1] if entry else []) + (cmd[-1] if cmd else []) == \
        ["shardgate", "--config", CONFIG_IN_CONTAINER]


def test_dockerfile_copies_existing_files():
    for ins, args in dockerfile_instructions():
        if ins in ("COPY", "ADD") and "--from=" not in args:
            sources = [w for w in args.split() if not w.startswith("--")][:-1]
            for source in sources:
                if source != ".":
                    assert (REPO / source).exists(), f"Dockerfile copies {source}, which is missing"


def test_dockerfile_seeds_the_directory_volume(shardgate_config):
    """The runtime stage copies docker/directory.yaml to directory.file and gives the folder to
    the user the image runs as (before USER: chown needs root). Docker copies that content, with
    its owner, into the empty named volume compose mounts there, so the admin socket's temp
    file + rename in that folder works from the first start."""
    assert directory_seed(shardgate_config) == DOCKER / "directory.yaml"
    runtime = runtime_stage()
    users = [(i, args.strip()) for i, (ins, args) in enumerate(runtime) if ins == "USER"]
    assert users, "the runtime stage runs as root: want USER"
    user_at, user = users[-1]
    user_name = user.split(":")[0]
    assert user_name not in ("root", "0"), "the image runs as root"
    # The user is created in the runtime stage, with a fixed uid: a rebuilt image must still
    # own the files an older one put on the volume.
    created = [args for ins, args in runtime[:user_at] if ins == "RUN"
               and re.search(rf"\buseradd\b[^&;|]*\s{re.escape(user_name)}\b", args)]
    assert created, f"runtime stage: no useradd of {user_name}"
    assert re.search(rf"useradd\b[^&;|]*(--uid|-u)[ =]\d+[^&;|]*\s{re.escape(user_name)}\b",
                     created[0]), f"useradd {user_name} without a fixed --uid"

    target = directory_file(shardgate_config)
    folder = str(Path(target).parent)
    copied_at = [i for i, (ins, args) in enumerate(runtime) if ins in ("COPY", "ADD")
                 and "--from=" not in args and target in copy_destinations(copy_args(args))]
    assert copied_at and copied_at[-1] < user_at
    owner = re.compile(rf"^({re.escape(user_name)}|{re.escape(user)})(:\S+)?$")
    chowned = False
    for ins, args in runtime[copied_at[-1] + 1:user_at]:
        if ins != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", args):
            words = command.split()
            if words[:1] != ["chown"]:
                continue
            operands = [w for w in words[1:] if not w.startswith("-")]
            recursive = any(w in ("-R", "--recursive") for w in words[1:])
            if operands and owner.match(operands[0]) and \
                    any(o.rstrip("/") == folder for o in operands[1:]) and \
                    (recursive or target in operands[1:]):
                chowned = True
    assert chowned, \
        f"Dockerfile: want `RUN chown -R {user_name}:... {folder}` after copying {target}, before USER"


def test_runtime_packages_script(binary):
    """docker/runtime-packages.sh (run by the Dockerfile) names installed Debian packages."""
    result = subprocess.run(["bash", str(DOCKER / "runtime-packages.sh"), str(binary)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert "libc6" in packages and "libyaml-cpp0.7" in packages, packages
    for package in packages:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                                capture_output=True, text=True)
        assert "install ok installed" in status.stdout, f"{package} is not an installed package"
