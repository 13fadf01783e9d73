"""Process lifecycle: SIGTERM shutdown, --check-config, --version, --help."""
import re
import signal
import socket
import subprocess
import threading
import time

import psycopg
import pytest

import pgwire
from proxyctl import APP_PASSWORD


def new_connection_refused(proxy) -> bool:
    """True if a new client cannot get a session: refused, closed, or told to go away."""
    try:
        with pgwire.RawConnection(proxy.host, proxy.port, timeout=3) as conn:
            conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
    except (ConnectionError, pgwire.ServerError):
        return True
    except socket.timeout:
        return False
    return False


def test_sigterm_with_idle_client_exits_0(start_proxy, launcher):
    proxy = start_proxy(launcher.config(shutdown_timeout="3s"))
    conn = proxy.connect(tenant="acme")
    conn.execute("SELECT 1")
    started = time.monotonic()
    code = proxy.terminate(timeout=3 + 2)
    elapsed = time.monotonic() - started
    conn.close()
    assert code == 0, f"exit code {code} after {elapsed:.1f}s; log:\n{proxy.log()[-4000:]}"
    assert elapsed < 3 + 1, f"idle shutdown took {elapsed:.1f}s (shutdown_timeout 3s)"
    assert new_connection_refused(proxy)


def test_sigterm_lets_running_transaction_finish_and_stops_accepting(start_proxy, launcher):
    proxy = start_proxy(launcher.config(shutdown_timeout="5s"))
    result = {}

    def long_query():
        try:
            with proxy.connect(tenant="acme") as conn:
                result["row"] = conn.execute("SELECT 'finished' FROM pg_sleep(1.5)").fetchone()
        except psycopg.Error as exc:
            result["error"] = exc

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    proxy.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    refused_while_draining = proxy.alive() and new_connection_refused(proxy)
    worker.join(timeout=10)
    try:
        code = proxy.proc.wait(timeout=5 + 2)
    except subprocess.TimeoutExpired:
        code = None
    elapsed = time.monotonic() - started
    assert result.get("row") == ("finished",), result
    assert refused_while_draining, "a new client still got a session after SIGTERM"
    assert code == 0, f"exit code {code} after {elapsed:.1f}s; log:\n{proxy.log()[-4000:]}"


def test_sigterm_gives_up_after_shutdown_timeout(start_proxy, launcher):
    proxy = start_proxy(launcher.config(shutdown_timeout="2s"))
    conn = proxy.connect(tenant="acme")
    worker = threading.Thread(target=lambda: _swallow(conn.execute, "SELECT pg_sleep(20)"))
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    code = proxy.terminate(timeout=2 + 3)
    elapsed = time.monotonic() - started
    worker.join(timeout=10)
    conn.close()
    assert code == 0, f"exit code {code} after {elapsed:.1f}s (shutdown_timeout 2s)"
    assert elapsed < 2 + 2


def _swallow(fn, *args):
    try:
        fn(*args)
    except psycopg.Error:
        pass


GOOD_CONFIG = """\
listen: 127.0.0.1:16432
admin:
  socket_dir: {dir}
log: {{ level: info, format: json }}
auth:
  users:
    - {{ name: app, password: app, tenants: "*" }}
tenant:
  sources: [options, user_suffix, session]
  schema_template: "tenant_{{tenant}}"
shards:
  s1: {{ host: 127.0.0.1, port: 5432, dbname: app, user: shardgate, password: pw }}
directory:
  file: {dir}/directory.yaml
"""
DIRECTORY = "tenants:\n  acme: { shard: s1, tier: default }\n"

# (name, text to replace, replacement, line of the error, key named in the message)
BAD_CONFIGS = [
    ("bad_port", "port: 5432", "port: notaport", 12, "port"),
    ("bad_source", "sources: [options, user_suffix, session]", "sources: [options, telepathy]", 9, "sources"),
    ("bad_listen", "listen: 127.0.0.1:16432", "listen: [1, 2]", 1, "listen"),
]


def run_shardgate(binary, *args):
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_check_config_accepts_good_file(binary, tmp_path):
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_CONFIG.format(dir=tmp_path))
    out = run_shardgate(binary, "--check-config", str(good))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name,old,new,line,key", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_check_config_rejects_bad_file_naming_line_and_key(binary, tmp_path, name, old, new, line, key):
    (tmp_path / "directory.yaml").write_text(DIRECTORY)
    text = GOOD_CONFIG.format(dir=tmp_path)
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new))
    assert new in bad.read_text().splitlines()[line - 1]
    out = run_shardgate(binary, "--check-config", str(bad))
    output = out.stdout + out.stderr
    assert out.returncode == 1, output
    assert re.search(rf"bad\.yaml:{line}\b", output), output
    assert key in output, output


def test_check_config_rejects_missing_file(binary, tmp_path):
    out = run_shardgate(binary, "--check-config", str(tmp_path / "absent.yaml"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "absent.yaml" in out.stdout + out.stderr


def test_version_and_help(binary):
    version = run_shardgate(binary, "--version")
    assert version.returncode == 0
    assert "shardgate" in version.stdout.lower() and re.search(r"\d+\.\d+", version.stdout), version.stdout
    usage = run_shardgate(binary, "--help")
    assert usage.returncode == 0
    assert "--config" in usage.stdout and "--check-config" in usage.stdout, usage.stdout
