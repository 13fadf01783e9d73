"""Starting shardgate for integration tests: config files, the process, client helpers."""
from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

import pgshards

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "proxy" / "shardgate"

# Client-facing users of the default config: name -> (password, auth method, tenants).
USERS = {
    "app": ("app-pw", "scram-sha-256", "*"),
    "app_md5": ("md5-pw", "md5", "*"),
    "app_plain": ("plain-pw", "plain", "*"),
    "acme_only": ("acme-pw", "scram-sha-256", ["acme"]),
}
APP_PASSWORD = USERS["app"][0]

# Tenant -> shard of the default directory. benchco is pgbench's playground.
TENANT_SHARDS = {"acme": "s1", "initech": "s1", "globex": "s2", "benchco": "s2"}


def shardgate_bin() -> Path:
    return Path(os.environ.get("SHARDGATE_BIN", str(DEFAULT_BIN)))


def users_config(users: dict = USERS) -> list[dict]:
    return [{"name": name, "password": password, "auth": method, "tenants": tenants}
            for name, (password, method, tenants) in users.items()]


def directory_for(tenant_shards: dict[str, str], tier: str = "default",
                  explicit_schema: bool = True) -> dict:
    """Directory entries {shard, tier, schema}; without explicit_schema the schema comes from
    tenant.schema_template (test_routing covers that form)."""
    entries = {}
    for tenant, shard in tenant_shards.items():
        entries[tenant] = {"shard": shard, "tier": tier}
        if explicit_schema:
            entries[tenant]["schema"] = f"tenant_{tenant}"
    return {"tenants": entries}


def base_config(shards: dict, sources=("options", "user_suffix", "session")) -> dict:
    """The default config (SPEC.md format); listen/admin/directory.file are filled in at start."""
    return {
        "connect_timeout": "2s",
        "shutdown_timeout": "5s",
        "log": {"level": "info", "format": "text"},
        "auth": {"users": users_config()},
        "tenant": {"sources": list(sources), "user_separator": ".",
                   "schema_template": "tenant_{tenant}"},
        "shards": {name: shard.config_entry() for name, shard in shards.items()},
        "tiers": {"default": {"pool": "shared", "pool_size": 50, "pool_mode": "session"}},
        "directory": {"default_placement": "reject"},
    }


def write_json_yaml(path: Path, data: dict) -> Path:
    """JSON is valid YAML, so json.dumps is our YAML emitter."""
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@dataclass
class Proxy:
    host: str
    port: int
    proc: subprocess.Popen
    dir: Path
    config_path: Path
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def reload(self, timeout: float = 5.0) -> None:
        """SIGHUP, then wait for one more 'configuration reloaded' line in the log."""
        before = self.log().count("configuration reloaded")
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if log.count("configuration reloaded") > before:
                return
            assert "reload refused" not in log[-2000:], log[-2000:]
            time.sleep(0.05)
        raise AssertionError(f"no 'configuration reloaded' within {timeout}s of SIGHUP; "
                             f"log:\n{self.log()[-3000:]}")

    def conninfo(self, tenant: str | None = None, user: str = "app", password: str | None = None,
                 dbname: str = "app", **extra) -> str:
        params = {"host": self.host, "port": self.port, "user": user, "dbname": dbname,
                  "password": password if password is not None else USERS.get(user, (APP_PASSWORD,))[0],
                  "connect_timeout": 10, **extra}
        if tenant is not None:
            params["options"] = f"-c shardgate.tenant={tenant}"
        return psycopg.conninfo.make_conninfo(**params)

    def connect(self, tenant: str | None = None, autocommit: bool = True, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(tenant, **kwargs), autocommit=autocommit)

    def libpq_env(self, user: str = "app", password: str | None = None,
                  tenant: str | None = None) -> dict:
        """Environment for psql/pgbench; with `tenant`, the tenant rides in PGOPTIONS."""
        env = dict(os.environ, PGHOST=self.host, PGPORT=str(self.port), PGUSER=user,
                   PGDATABASE="app", PGCONNECT_TIMEOUT="10",
                   PGPASSWORD=password if password is not None else USERS.get(user, (APP_PASSWORD,))[0])
        env.pop("PGOPTIONS", None)
        if tenant is not None:
            env["PGOPTIONS"] = f"-c shardgate.tenant={tenant}"
        return env

    def status_kb(self, key: str = "VmHWM") -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then wait; returns the exit code, or None if it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.stopped = True
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.stopped = True


class ProxyLauncher:
    """Starts shardgate processes with generated config files and stops them."""

    def __init__(self, shards: dict, binary: Path | None = None):
        self.shards = shards
        self.binary = binary or shardgate_bin()
        self.root = Path(tempfile.mkdtemp(prefix="sg-proxy-", dir="/tmp"))
        self.proxies: list[Proxy] = []
        atexit.register(self._kill_leftovers)

    def _kill_leftovers(self) -> None:
        """At interpreter exit, nothing this launcher started may outlive it."""
        for proxy in self.proxies:
            proxy.kill()

    def config(self, **top_level) -> dict:
        cfg = base_config(self.shards)
        cfg.update(copy.deepcopy(top_level))
        return cfg

    def start(self, config: dict | None = None, directory: dict | None = None,
              wait: bool = True, env: dict | None = None) -> Proxy:
        """Starts shardgate; `env` is added to this process's environment for it."""
        if not self.binary.exists():
            raise FileNotFoundError(f"shardgate binary {self.binary} does not exist: build it "
                                    f"first or set SHARDGATE_BIN")
        config = copy.deepcopy(config) if config is not None else self.config()
        directory = directory if directory is not None else directory_for(TENANT_SHARDS)
        workdir = Path(tempfile.mkdtemp(prefix="p", dir=self.root))
        port = pgshards.free_port()
        config.setdefault("listen", f"127.0.0.1:{port}")
        host, port = config["listen"].rsplit(":", 1)
        admin = config.setdefault("admin", {})
        admin.setdefault("socket_dir", str(workdir))
        admin.setdefault("port", int(port))
        config.setdefault("directory", {})
        if "file" not in config["directory"]:
            config["directory"]["file"] = str(write_json_yaml(workdir / "directory.yaml", directory))
        config_path = write_json_yaml(workdir / "shardgate.yaml", config)
        log_path = workdir / "shardgate.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([str(self.binary), "--config", str(config_path)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True,
                                    env=dict(os.environ, **env) if env else None)
        proxy = Proxy(host=host, port=int(port), proc=proc, dir=workdir,
                      config_path=config_path, log_path=log_path)
        self.proxies.append(proxy)
        if wait:
            self.wait_ready(proxy)
        return proxy

    @staticmethod
    def wait_ready(proxy: Proxy, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proxy.alive():
                raise RuntimeError(f"shardgate exited with {proxy.proc.returncode} at start; "
                                   f"log:\n{proxy.log()}")
            if pgshards.wait_for_port(proxy.port, proxy.host, timeout=0.2):
                return
        proxy.kill()
        raise RuntimeError(f"shardgate did not accept TCP on {proxy.port} within {timeout}s; "
                           f"log:\n{proxy.log()}")

    def stop(self, proxy: Proxy, timeout: float = 10.0) -> str | None:
        """Stops one proxy; returns a failure description or None."""
        if proxy in self.proxies:
            self.proxies.remove(proxy)
        if proxy.stopped and not proxy.alive():
            return None
        started = time.monotonic()
        code = proxy.terminate(timeout)
        if code is None:
            proxy.kill()
            return (f"shardgate pid {proxy.pid} did not exit within {timeout}s of SIGTERM; "
                    f"log:\n{proxy.log()[-20000:]}")
        if code != 0:
            return (f"shardgate pid {proxy.pid} exited with {code} after SIGTERM "
                    f"({time.monotonic() - started:.1f}s); log:\n{proxy.log()[-20000:]}")
        return None

    def stop_all(self) -> list[str]:
        return [f for f in (self.stop(p) for p in list(self.proxies)) if f]

    def cleanup(self, keep: bool = False) -> None:
        """Stops what is left and removes the config/log folders (kept when `keep` or
        SHARDGATE_KEEP_LOGS is set, for a look after a failure)."""
        failures = self.stop_all()
        if keep or failures or os.environ.get("SHARDGATE_KEEP_LOGS"):
            print(f"shardgate configs and logs kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


# --- client tools -------------------------------------------------------------------------------
def run_tool(cmd: list[str], env: dict, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def psql(proxy: Proxy, sql: str, tenant: str | None = None, user: str = "app",
         password: str | None = None, timeout: float = 60, conninfo: str | None = None,
         **kwargs) -> subprocess.CompletedProcess:
    """psql -X -A -t -v ON_ERROR_STOP=1 -c SQL through the proxy."""
    env = proxy.libpq_env(user=user, password=password, tenant=tenant)
    cmd = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    if conninfo:
        cmd.append(conninfo)
    return run_tool(cmd + ["-c", sql], env, timeout=timeout, **kwargs)
