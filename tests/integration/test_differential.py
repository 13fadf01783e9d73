"""Differential runs: the same SQL scripts through psql straight to PostgreSQL and through
shardgate (session and transaction mode), outputs compared statement by statement.

The corpus is tests/integration/differential/*.sql (the project's own scripts: settings,
DateStyle/TimeZone, RESET, SET LOCAL, temp tables and a temporary table hiding a real one,
cursors, prepared statements, COPY, notices, errors inside transactions, large results). A script's `-- env: NAME=value` header
lines set the client's environment (PGOPTIONS, PGDATESTYLE, PGTZ, ...) for every run.

The direct run connects to the tenant's shard with search_path set to the tenant's schema
(PGOPTIONS), as an application without shardgate would. Every difference must be listed in
differential/expected_differences.yaml with its reason; any other difference fails. The
shard's log must show the same WARNING lines for the proxied runs as for the direct one:
shardgate's own statements (the tenant context prefix) must leave no trace there.
"""
from __future__ import annotations

import difflib
import os
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import pgshards
from proxyctl import TENANT_SHARDS, directory_for

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "differential"
EXPECTED = CORPUS / "expected_differences.yaml"
PSQL = Path("/usr/lib/postgresql/15/bin/psql")
TENANT = "fidelity"
SHARD = "s1"
MODES = ("session", "transaction")


@dataclass
class Statement:
    first_line: str  # how psql -a echoes its start; identifies it in expected_differences
    line_no: int


def script_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("-- env: "):
            name, _, value = line[len("-- env: "):].partition("=")
            env[name.strip()] = value
    return env


def statements(path: Path) -> list[Statement]:
    """The script's statements in order: each starts at its first non-comment line and ends
    at a line ending in ';' (COPY ... FROM stdin: at the data's closing '\\.')."""
    out: list[Statement] = []
    current: Statement | None = None
    in_copy_data = False
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if in_copy_data:
            in_copy_data = line != "\\."
            continue
        if current is None:
            if not line or line.startswith("--"):
                continue
            current = Statement(line, no)
        if line.endswith(";") or line.startswith("\\"):
            out.append(current)
            in_copy_data = "from stdin" in line.lower()
            current = None
    assert current is None, f"{path.name}: statement at line {current.line_no} has no ';'"
    return out


def split_blocks(output: str, stmts: list[Statement]) -> tuple[list[list[str]], str | None]:
    """Output lines per statement (from its echo to the next statement's echo)."""
    lines = output.splitlines()
    starts, at = [], 0
    for s in stmts:
        try:
            at = lines.index(s.first_line, at)
        except ValueError:
            return [], f"statement at line {s.line_no} ({s.first_line!r}) not echoed"
        starts.append(at)
        at += 1
    starts.append(len(lines))
    return [lines[starts[i]:starts[i + 1]] for i in range(len(stmts))], None


def load_expected() -> list[dict]:
    entries = yaml.safe_load(EXPECTED.read_text())["differences"]
    for e in entries:
        assert {"script", "modes", "statement", "reason"} <= set(e), f"incomplete entry {e}"
        assert e["reason"].strip(), f"entry without a reason: {e}"
        assert set(e["modes"]) <= set(MODES), f"unknown mode in {e}"
        assert (CORPUS / e["script"]).exists(), f"no script {e['script']}"
    return entries


def run_psql(script: Path, env: dict[str, str]) -> str:
    result = subprocess.run([str(PSQL), "-X", "-a", "-q", "-v", "ON_ERROR_STOP=0", "-f",
                             str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            timeout=120)
    return result.stdout


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGCONNECT_TIMEOUT="10", PGDATABASE="app", LC_ALL="C.UTF-8", PAGER="")
    return env


class ShardLog:
    """The WARNING lines the shard logged since the last call."""

    def __init__(self, shard: pgshards.Shard):
        self.path = shard.log_file
        self.offset = self.path.stat().st_size

    def warnings(self) -> list[str]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        found = []
        for line in data.decode(errors="replace").splitlines():
            _, sep, message = line.partition("WARNING:")
            if sep:
                found.append("WARNING:" + message)
        return found


@pytest.fixture(scope="module")
def proxies(shards, launcher):
    pgshards.provision_tenant(shards[SHARD], TENANT)
    schema = pgshards.tenant_schema(TENANT)
    # The real table temp_shadow.sql hides behind a temporary one (other_client reads it).
    shards[SHARD].sql(f"DROP TABLE IF EXISTS {schema}.shadowed")
    shards[SHARD].sql(f"CREATE TABLE {schema}.shadowed (id int, body text CHECK (body <> 'TEMP'))")
    shards[SHARD].sql(f"INSERT INTO {schema}.shadowed VALUES (1, 'real')")
    directory = directory_for({**TENANT_SHARDS, TENANT: SHARD})
    started = {}
    for mode in MODES:
        config = launcher.config()
        # A small pool: statements of one client meet the same and other server connections.
        config["tiers"] = {"default": {"pool": "shared", "pool_size": 3, "pool_mode": mode}}
        started[mode] = launcher.start(config, directory)
    yield started
    failures = [f for f in (launcher.stop(p) for p in started.values()) if f]
    assert not failures, "\n".join(failures)


@contextmanager
def other_client(proxy):
    """Transaction mode: another client of the tenant, with settings of its own, keeps taking
    server connections, so the script's statements move between connections (its settings
    must follow it, and this client's must not reach it). It reads the real `shadowed` table
    each time: a temporary table of the script's (temp_shadow.sql) must never hide it."""
    stop = threading.Event()
    errors = []

    def loop():
        try:
            with proxy.connect(options=f"-c shardgate.tenant={TENANT} -c work_mem=2MB "
                                       "-c geqo=off", application_name="other") as conn:
                conn.execute("SET statement_timeout = '7s'")
                conn.execute("SET datestyle = 'SQL, DMY'")
                while not stop.is_set():
                    with conn.transaction():
                        conn.execute("SELECT pg_sleep(0.003)")
                    seen = conn.execute("SELECT body FROM shadowed").fetchall()
                    if seen != [("real",)]:
                        errors.append(f"another client's temporary table showed: {seen}")
                        return
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        stop.set()
        thread.join(timeout=10)


SCRIPTS = sorted(p.name for p in CORPUS.glob("*.sql"))


def test_corpus_is_there():
    assert len(SCRIPTS) >= 10
    load_expected()


@pytest.mark.parametrize("script", SCRIPTS)
def test_differential(script, shards, proxies):
    path = CORPUS / script
    stmts = statements(path)
    extra = script_env(path)
    options = extra.pop("PGOPTIONS", "")
    shard = shards[SHARD]
    log = ShardLog(shard)

    direct_env = base_env() | extra | {
        "PGHOST": shard.host, "PGPORT": str(shard.port), "PGUSER": shard.user,
        "PGPASSWORD": shard.password,
        "PGOPTIONS": f"-c search_path={pgshards.tenant_schema(TENANT)} {options}".strip()}
    direct = run_psql(path, direct_env)
    direct_warnings = log.warnings()
    direct_blocks, problem = split_blocks(direct, stmts)
    assert problem is None, f"direct run of {script}: {problem}\n{direct}"

    expected = load_expected()
    unexpected, extra_warnings = [], []
    for mode in MODES:
        proxy = proxies[mode]
        env = base_env() | extra | proxy.libpq_env() | extra
        env = {k: v for k, v in env.items() if k != "PGOPTIONS"}
        env["PGOPTIONS"] = f"-c shardgate.tenant={TENANT} {options}".strip()
        if mode == "transaction":
            with other_client(proxy) as errors:
                proxied = run_psql(path, env)
            assert not errors, f"the other client failed: {errors}"
        else:
            proxied = run_psql(path, env)
        warnings = log.warnings()
        if sorted(warnings) != sorted(direct_warnings):
            extra_warnings.append(f"[{mode}] shard log WARNING lines differ:\n  direct: "
                                  f"{direct_warnings}\n  through shardgate: {warnings}")
        assert proxy.alive(), f"shardgate ({mode}) died running {script}"
        blocks, problem = split_blocks(proxied, stmts)
        if problem:
            unexpected.append(f"[{mode}] {problem}\n" + "\n".join(
                difflib.unified_diff(direct.splitlines(), proxied.splitlines(), "direct",
                                     "shardgate", lineterm="")))
            continue
        for stmt, want, got in zip(stmts, direct_blocks, blocks):
            if want == got:
                continue
            allowed = any(e["script"] == script and mode in e["modes"] and
                          e["statement"] == stmt.first_line for e in expected)
            if not allowed:
                diff = "\n".join(difflib.unified_diff(want, got, "direct", "shardgate",
                                                      lineterm=""))
                unexpected.append(f"[{mode}] {script}:{stmt.line_no} {stmt.first_line}\n{diff}")
    problems = extra_warnings
    if unexpected:
        problems.append("differences not listed in expected_differences.yaml:\n\n" +
                        "\n\n".join(unexpected))
    assert not problems, "\n\n".join(problems)
