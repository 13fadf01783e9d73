"""Start and stop local PostgreSQL 15 shards for shardgate's tests and demo.

Each shard is a real PostgreSQL server (initdb into a folder of its own) listening on
127.0.0.1 at a free port and on a Unix socket inside its data folder, with a database `app`
and a superuser role `shardgate` that logs in over TCP with a password.

PostgreSQL refuses to run as root. When this runs as root, the servers run as the
unprivileged system user `sgtest` (created if missing) through `runuser`, and their folders
belong to that user; otherwise they run as the current user.

    cluster = ShardCluster()                 # temp folder under /tmp, removed at exit
    s1 = cluster.start_shard("s1")           # host_auth="md5" or "trust" for other methods
    provision_tenant(s1, "acme")
    s1.sql("SELECT 1")
    cluster.stop_all()

Servers are stopped at interpreter exit and on SIGTERM/SIGHUP (fast shutdown).
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

PG_BIN = Path(os.environ.get("SHARDGATE_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVICE_USER = "sgtest"
DEFAULT_PASSWORD = "shardgate-pw"
HOST_AUTH_METHODS = ("scram-sha-256", "md5", "trust")


def is_root() -> bool:
    return os.geteuid() == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ensure_service_user() -> None:
    """As root, make sure the unprivileged user that runs PostgreSQL exists."""
    if not is_root():
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVICE_USER], check=True)


def _as_service_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *cmd] if is_root() else cmd


def _give_to_service_user(path: Path) -> None:
    if is_root():
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def service_user_can_enter(path: Path) -> bool:
    """True if the user running PostgreSQL can reach `path` (every parent searchable)."""
    if not is_root():
        return True
    result = subprocess.run(_as_service_user(["test", "-x", str(path)]), capture_output=True)
    return result.returncode == 0


def _run(cmd: list[str], what: str, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                            start_new_session=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {' '.join(cmd)}\n"
                           f"{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Shard:
    """One PostgreSQL server. `root` holds `data/` (PGDATA, also the socket dir) and `postgres.log`."""
    name: str
    root: Path
    port: int
    password: str = DEFAULT_PASSWORD
    host_auth: str = "scram-sha-256"
    user: str = "shardgate"
    dbname: str = "app"
    # Extra server settings given on the command line at every start, e.g.
    # {"wal_level": "logical"} for shards that tenant moves replicate from.
    server_settings: dict = field(default_factory=dict)
    # (certificate, key) files: the server runs with ssl = on and shows this certificate.
    ssl_files: tuple[str, str] | None = None
    running: bool = field(default=False, init=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def conninfo(self, dbname: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=dbname or self.dbname, connect_timeout=5)

    def config_entry(self) -> dict:
        """This shard as a `shards:` entry of shardgate's config."""
        return {"host": self.host, "port": self.port, "dbname": self.dbname,
                "user": self.user, "password": self.password}

    # --- lifecycle -------------------------------------------------------------------------
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.host_auth not in HOST_AUTH_METHODS:
            raise ValueError(f"host_auth must be one of {HOST_AUTH_METHODS}")
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        _give_to_service_user(self.root)
        _run(_as_service_user([
            str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", self.user,
            f"--auth-host={self.host_auth}", "--auth-local=trust", "--no-sync",
            "-E", "UTF8", "--locale=C"]), f"initdb for shard {self.name}")
        encryption = "md5" if self.host_auth == "md5" else "scram-sha-256"
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.data_dir}'",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "password_encryption": f"'{encryption}'",
            "log_connections": "off",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        if self.ssl_files:
            for source, target in zip(self.ssl_files, ("server.crt", "server.key")):
                shutil.copy(source, self.data_dir / target)
                os.chmod(self.data_dir / target, 0o600)
                _give_to_service_user(self.data_dir / target)
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        conf_path = self.data_dir / "postgresql.conf"
        with open(conf_path, "a") as conf:
            conf.write("\n# written by shardgate's scripts/pgshards.py\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        # The port goes on the command line so a restart can move the shard to another port.
        self.start()
        self._local_sql(f"ALTER ROLE {self.user} PASSWORD '{self.password}'")
        self._local_sql(f"CREATE DATABASE {self.dbname}")

    def start(self) -> None:
        """Starts the server (stops a leftover one on the same folder first)."""
        if self._pg_ctl_status_running():
            self._pg_ctl_stop()
        self.log_file.touch()
        _give_to_service_user(self.log_file)
        _run(_as_service_user([
            str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", "30", "-o", self._server_options(), "start"]), f"start shard {self.name}")
        self.running = True
        _live_shards.add(self)

    def _server_options(self) -> str:
        options = [f"-p {self.port}"]
        options += [f"-c {key}={value}" for key, value in self.server_settings.items()]
        return " ".join(options)

    def stop(self) -> None:
        if self.running or self._pg_ctl_status_running():
            self._pg_ctl_stop()
        self.running = False
        _live_shards.discard(self)

    def restart(self, port: int | None = None) -> None:
        self.stop()
        if port is not None:
            self.port = port
        self.start()

    def _pg_ctl_status_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = subprocess.run(_as_service_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir),
                                                  "status"]), capture_output=True)
        return result.returncode == 0

    def _pg_ctl_stop(self) -> None:
        subprocess.run(_as_service_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir),
                                         "-m", "fast", "-w", "-t", "30", "stop"]),
                       capture_output=True, timeout=60, start_new_session=True)

    def _local_sql(self, statement: str) -> None:
        """Runs one statement as the bootstrap superuser over the Unix socket (trust)."""
        with psycopg.connect(host=str(self.data_dir), port=self.port, user=self.user,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)

    # --- SQL over TCP, as the shardgate role -------------------------------------------------
    def connect(self, dbname: str | None = None, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname), autocommit=True, **kwargs)

    def sql(self, query, params=None, dbname: str | None = None) -> list[tuple]:
        """Runs one statement directly on the shard; returns its rows ([] when none)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, query, params=None, dbname: str | None = None):
        rows = self.sql(query, params, dbname)
        return rows[0][0] if rows else None

    def __hash__(self) -> int:
        return id(self)


class ShardCluster:
    """A set of shards under one folder (a fresh temp folder under /tmp unless `base_dir`)."""

    def __init__(self, base_dir: str | Path | None = None, keep: bool = False):
        ensure_service_user()
        self.owns_dir = base_dir is None
        if base_dir is None:
            base_dir = tempfile.mkdtemp(prefix="sg-shards-", dir="/tmp")
        self.base_dir = Path(base_dir).absolute()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        if not service_user_can_enter(self.base_dir):
            raise RuntimeError(f"user {SERVICE_USER} cannot enter {self.base_dir}: a parent "
                               f"folder is not searchable; use a folder under /tmp")
        self.keep = keep or not self.owns_dir
        self.shards: dict[str, Shard] = {}
        _live_clusters.append(self)

    def start_shard(self, name: str, host_auth: str = "scram-sha-256",
                    password: str = DEFAULT_PASSWORD, port: int | None = None,
                    server_settings: dict | None = None,
                    ssl_files: tuple[str, str] | None = None) -> Shard:
        shard = Shard(name=name, root=self.base_dir / name, port=port or free_port(),
                      password=password, host_auth=host_auth,
                      server_settings=dict(server_settings or {}), ssl_files=ssl_files)
        if shard.initialized():
            shard.start()
        else:
            shard.init()
        self.shards[name] = shard
        return shard

    def stop_all(self) -> None:
        for shard in self.shards.values():
            try:
                shard.stop()
            except Exception as exc:  # keep stopping the others
                print(f"pgshards: stopping {shard.name} failed: {exc}")

    def cleanup(self) -> None:
        self.stop_all()
        if not self.keep:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if self in _live_clusters:
            _live_clusters.remove(self)


# --- tenants ------------------------------------------------------------------------------
def tenant_schema(tenant: str) -> str:
    return f"tenant_{tenant}"


def provision_tenant(shard: Shard, tenant: str, rows: int = 3, schema: str | None = None) -> str:
    """Creates the tenant's schema with table items(id serial, body text) holding `rows`
    rows '<tenant> secret <n>'. Idempotent: rows are added only to an empty table."""
    schema = schema or tenant_schema(tenant)
    ident = pgsql.Identifier(schema)
    with shard.connect() as conn:
        conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(pgsql.SQL("CREATE TABLE IF NOT EXISTS {}.items "
                               "(id serial PRIMARY KEY, body text)").format(ident))
        count = conn.execute(pgsql.SQL("SELECT count(*) FROM {}.items").format(ident)).fetchone()[0]
        if count == 0:
            for n in range(1, rows + 1):
                conn.execute(pgsql.SQL("INSERT INTO {}.items (body) VALUES (%s)").format(ident),
                             (f"{tenant} secret {n}",))
    return schema


# --- cleanup at exit ----------------------------------------------------------------------
_live_shards: set[Shard] = set()
_live_clusters: list[ShardCluster] = []


def _cleanup_all() -> None:
    for cluster in list(_live_clusters):
        cluster.cleanup()
    for shard in list(_live_shards):
        try:
            shard.stop()
        except Exception:
            pass


def _on_signal(signum, _frame):
    _cleanup_all()
    raise SystemExit(128 + signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, None):
        try:
            signal.signal(_sig, _on_signal)
        except ValueError:  # not the main thread
            pass
