"""TLS between clients and shardgate: certificates from a CA this module makes with openssl,
real clients (psql, psycopg, asyncpg, node-postgres, pgjdbc where installed), channel binding,
plaintext refused under `require`, the errors clients expect for a bad certificate, direct TLS
(PostgreSQL 17's ALPN "postgresql"), cancel requests over TLS and certificate rotation with
connections open."""
from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

import pgwire
from node_deps import NODE_DIR, npm_install
from proxyctl import APP_PASSWORD, psql, run_tool


# --- certificates --------------------------------------------------------------------------------
def openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"openssl {' '.join(args)} failed:\n{out.stderr}"


class Pki:
    """A test CA, a second CA nobody trusts, and server certificates signed by them."""

    def __init__(self, root: Path):
        self.root = root
        self.make_ca("ca", "shardgate test CA")
        self.make_ca("other_ca", "untrusted test CA")
        (root / "index.txt").write_text("")
        (root / "serial").write_text("1000\n")
        (root / "newcerts").mkdir()
        (root / "ca.cnf").write_text(textwrap.dedent(f"""\
            [ ca ]
            default_ca = test
            [ test ]
            database = {root}/index.txt
            new_certs_dir = {root}/newcerts
            certificate = {root}/ca.crt
            private_key = {root}/ca.key
            serial = {root}/serial
            default_md = sha256
            policy = anything
            unique_subject = no
            [ anything ]
            commonName = supplied
            """))

    def path(self, name: str) -> str:
        return str(self.root / name)

    def make_ca(self, name: str, cn: str) -> None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "30",
                "-subj", f"/CN={cn}", cwd=self.root)

    def make_server(self, name: str, san: str, ca: str = "ca", expired: bool = False) -> None:
        """{name}.crt/.key for the given subjectAltName, signed by `ca`."""
        (self.root / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                cwd=self.root)
        if expired:
            openssl("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr", "-out",
                    f"{name}.crt", "-startdate", "20200101000000Z", "-enddate",
                    "20200201000000Z", "-notext", "-extfile", f"{name}.ext", cwd=self.root)
        else:
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
                    f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "30",
                    "-extfile", f"{name}.ext", cwd=self.root)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    pki.make_server("server", "DNS:localhost,IP:127.0.0.1")
    pki.make_server("rotated", "DNS:localhost,IP:127.0.0.1")
    pki.make_server("wrong_host", "DNS:wrong.example")
    pki.make_server("expired", "DNS:localhost,IP:127.0.0.1", expired=True)
    pki.make_server("untrusted", "DNS:localhost,IP:127.0.0.1", ca="other_ca")
    pki.make_server("client", "DNS:app")  # a client certificate from the test CA
    pki.make_server("stranger", "DNS:app", ca="other_ca")
    for name in ("client", "stranger"):
        Path(pki.path(f"{name}.key")).chmod(0o600)  # libpq refuses a readable key
    return pki


def tls_block(pki: Pki, cert: str = "server", **extra) -> dict:
    return {"cert_file": pki.path(f"{cert}.crt"), "key_file": pki.path(f"{cert}.key"), **extra}


@pytest.fixture(scope="module")
def tls_proxy(launcher, pki):
    """mode: require, plus a user that may only connect with TLS under mode: allow (below)."""
    p = launcher.start(launcher.config(tls=tls_block(pki, mode="require")))
    yield p
    launcher.stop(p)


def verify_full(proxy, pki: Pki, tenant: str | None = "acme", **extra) -> str:
    """A conninfo that checks the chain and the host name, and requires channel binding."""
    params = dict(host="localhost", hostaddr="127.0.0.1", sslmode="verify-full",
                  sslrootcert=pki.path("ca.crt"), channel_binding="require")
    params.update(extra)
    return proxy.conninfo(tenant, **params)


def connect_error(conninfo: str) -> str:
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(conninfo).close()
    return str(err.value)


# --- clients over TLS ----------------------------------------------------------------------------
def test_psql_verify_full_with_channel_binding(tls_proxy, pki):
    out = psql(tls_proxy, "\\conninfo", conninfo=verify_full(tls_proxy, pki))
    assert out.returncode == 0, out.stderr
    assert "SSL connection (protocol: TLSv1." in out.stdout, out.stdout
    out = psql(tls_proxy, "SELECT current_schema()", conninfo=verify_full(tls_proxy, pki))
    assert out.returncode == 0 and out.stdout.strip() == "tenant_acme", out.stderr


def test_psycopg_reads_its_tenant_over_tls(tls_proxy, pki):
    with psycopg.connect(verify_full(tls_proxy, pki), autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        rows = conn.execute("SELECT body FROM items ORDER BY id").fetchall()
        assert rows and all(r[0].startswith("acme secret") for r in rows), rows
        # A large result crosses many TLS records both ways.
        big = conn.execute("SELECT repeat('x', 3000000)").fetchone()[0]
        assert len(big) == 3000000


def test_plain_scram_still_accepted_over_tls(tls_proxy, pki):
    """channel_binding=disable: libpq picks SCRAM-SHA-256 although -PLUS is on offer."""
    with psycopg.connect(verify_full(tls_proxy, pki, channel_binding="disable")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_asyncpg_over_tls(tls_proxy, pki):
    asyncpg = pytest.importorskip("asyncpg")
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))

    async def run():
        conn = await asyncpg.connect(host="localhost", port=tls_proxy.port, user="app",
                                     password=APP_PASSWORD, database="app", ssl=context,
                                     server_settings={"options": "-c shardgate.tenant=globex"})
        try:
            return await conn.fetchval("SELECT current_schema()")
        finally:
            await conn.close()

    assert asyncio.run(run()) == "tenant_globex"


def test_node_postgres_over_tls_with_channel_binding(tls_proxy, pki):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    npm_install("pg")
    script = textwrap.dedent("""
        const fs = require('fs');
        const { Client } = require('pg');
        const [port, ca] = process.argv.slice(1);
        (async () => {
          const client = new Client({ host: 'localhost', port: Number(port), user: 'app',
            password: 'app-pw', database: 'app', options: '-c shardgate.tenant=initech',
            enableChannelBinding: true,
            ssl: { ca: fs.readFileSync(ca), servername: 'localhost', rejectUnauthorized: true } });
          await client.connect();
          const r = await client.query('SELECT current_schema() AS s');
          console.log(r.rows[0].s);
          await client.end();
        })().catch((e) => { console.error(e.message); process.exit(1); });
        """)
    out = subprocess.run(["node", "-e", script, str(tls_proxy.port), pki.path("ca.crt")],
                         cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tenant_initech"


def test_pgjdbc_over_tls(tls_proxy, pki, tmp_path):
    jar = Path("/usr/share/java/postgresql.jar")
    if not jar.exists() or shutil.which("javac") is None:
        pytest.skip("pgjdbc not installed (Debian libpostgresql-jdbc-java and a JDK with javac)")
    (tmp_path / "Tls.java").write_text(textwrap.dedent("""
        import java.sql.*;
        public class Tls {
          public static void main(String[] a) throws Exception {
            try (Connection c = DriverManager.getConnection(a[0], "app", "app-pw");
                 ResultSet r = c.createStatement().executeQuery("SELECT current_schema()")) {
              r.next(); System.out.println(r.getString(1));
            }
          }
        }
        """))
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "Tls.java")], check=True,
                   timeout=120)
    url = (f"jdbc:postgresql://localhost:{tls_proxy.port}/app?sslmode=verify-full"
           f"&sslrootcert={pki.path('ca.crt')}&options=-c%20shardgate.tenant=acme")
    out = subprocess.run(["java", "-cp", f"{tmp_path}:{jar}", "Tls", url], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tenant_acme"


# --- what TLS settings refuse ----------------------------------------------------------------------
def test_plaintext_refused_under_require(tls_proxy):
    message = connect_error(tls_proxy.conninfo("acme", sslmode="disable"))
    assert "TLS is required" in message, message
    err = pgwire.startup_error(tls_proxy.host, tls_proxy.port, "app", APP_PASSWORD,
                               options="-c shardgate.tenant=acme")
    assert err.fields["C"] == "28000" and "sslmode=require" in err.fields.get("H", ""), err.fields


def test_require_tls_user_under_allow(start_proxy, launcher, pki):
    config = launcher.config(tls=tls_block(pki))  # mode defaults to allow with a certificate
    config["auth"]["users"].append({"name": "secure", "password": "secure-pw", "auth":
                                    "scram-sha-256", "tenants": "*", "require_tls": True})
    proxy = start_proxy(config)
    with psycopg.connect(proxy.conninfo("acme", sslmode="disable")) as conn:
        assert not conn.pgconn.ssl_in_use  # other users may still use plaintext
    message = connect_error(proxy.conninfo("acme", user="secure", password="secure-pw",
                                           sslmode="disable"))
    assert 'TLS is required for user "secure"' in message, message
    with psycopg.connect(proxy.conninfo("acme", user="secure", password="secure-pw",
                                        sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use


def test_wrong_host_untrusted_ca_and_expired_certificate(start_proxy, launcher, pki):
    wrong = start_proxy(launcher.config(tls=tls_block(pki, "wrong_host")))
    message = connect_error(verify_full(wrong, pki))
    assert 'server certificate for "wrong.example" does not match host name "localhost"' \
        in message, message
    with psycopg.connect(verify_full(wrong, pki, sslmode="verify-ca")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)  # verify-ca does not check the name

    untrusted = start_proxy(launcher.config(tls=tls_block(pki, "untrusted")))
    message = connect_error(verify_full(untrusted, pki))
    assert "certificate verify failed" in message, message

    expired = start_proxy(launcher.config(tls=tls_block(pki, "expired")))
    message = connect_error(verify_full(expired, pki))
    assert "certificate verify failed" in message, message
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
        tls_socket(expired, context)


def test_bad_certificate_never_starts_the_proxy(launcher, pki, tmp_path):
    config = launcher.config(tls={"cert_file": pki.path("server.crt"),
                                  "key_file": pki.path("rotated.key")})
    path = tmp_path / "bad.yaml"
    path.write_text(__import__("json").dumps(config))
    out = subprocess.run([str(launcher.binary), "--check-config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "rotated.key" in out.stdout + out.stderr, out.stdout + out.stderr


# --- client certificates ---------------------------------------------------------------------------
def with_client_cert(proxy, pki: Pki, name: str | None, **extra) -> str:
    if name is None:
        return verify_full(proxy, pki, **extra)
    return verify_full(proxy, pki, sslcert=pki.path(f"{name}.crt"),
                       sslkey=pki.path(f"{name}.key"), **extra)


def test_client_certificates_checked_against_ca_file(start_proxy, launcher, pki, tmp_path):
    """tls.ca_file: a certificate from that CA is required (clientcert=verify-ca); none, or
    one from another CA, fails the handshake; a new CA file is read on reload."""
    ca = tmp_path / "clients-ca.crt"
    shutil.copy(pki.path("ca.crt"), ca)
    proxy = start_proxy(launcher.config(tls=tls_block(pki, ca_file=str(ca))))
    with psycopg.connect(with_client_cert(proxy, pki, "client")) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)
    message = connect_error(with_client_cert(proxy, pki, None))
    assert "certificate required" in message, message
    message = connect_error(with_client_cert(proxy, pki, "stranger"))
    assert "unknown ca" in message, message
    wait_for_log(proxy, "unable to get local issuer certificate")
    # The CA makes TLS required: plaintext would carry no certificate.
    message = connect_error(proxy.conninfo("acme", sslmode="disable"))
    assert "TLS is required" in message, message

    with psycopg.connect(with_client_cert(proxy, pki, "client"), autocommit=True) as open_conn:
        shutil.copy(pki.path("other_ca.crt"), ca)
        proxy.proc.send_signal(signal.SIGHUP)
        wait_for_log(proxy, "configuration reloaded")
        with psycopg.connect(with_client_cert(proxy, pki, "stranger")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        message = connect_error(with_client_cert(proxy, pki, "client"))
        assert "unknown ca" in message, message
        assert open_conn.execute("SELECT 2").fetchone() == (2,)  # verified once, at its start


# --- negotiation --------------------------------------------------------------------------------
SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSSENC_REQUEST = struct.pack("!II", 8, 80877104)


def tls_socket(proxy, context: ssl.SSLContext, request_first: bool = True) -> ssl.SSLSocket:
    raw = socket.create_connection((proxy.host, proxy.port), timeout=10)
    if request_first:
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"S"
    return context.wrap_socket(raw, server_hostname="localhost")


def raw_over(sock) -> pgwire.RawConnection:
    conn = pgwire.RawConnection.__new__(pgwire.RawConnection)
    conn.sock, conn.parameters, conn.backend_key, conn.messages = sock, {}, None, []
    return conn


def test_gssenc_declined_then_tls(tls_proxy, pki):
    raw = socket.create_connection((tls_proxy.host, tls_proxy.port), timeout=10)
    raw.sendall(GSSENC_REQUEST)
    assert raw.recv(1) == b"N"
    raw.sendall(SSL_REQUEST)
    assert raw.recv(1) == b"S"
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    with raw_over(context.wrap_socket(raw, server_hostname="localhost")) as conn:
        conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        assert conn.query("SELECT current_schema()") == [("tenant_acme",)]


def test_direct_tls_needs_alpn_postgresql(tls_proxy, pki):
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    context.set_alpn_protocols(["postgresql"])
    with raw_over(tls_socket(tls_proxy, context, request_first=False)) as conn:
        assert conn.sock.selected_alpn_protocol() == "postgresql"
        conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        assert conn.query("SELECT current_schema()") == [("tenant_acme",)]
    # Without ALPN a direct handshake is refused, as PostgreSQL 17 refuses it.
    plain = ssl.create_default_context(cafile=pki.path("ca.crt"))
    sock = tls_socket(tls_proxy, plain, request_first=False)
    sock.sendall(pgwire.startup_packet({"user": "app", "database": "app"}))
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        if not sock.recv(1):
            raise ConnectionError("closed")


def test_cancel_request_over_tls(tls_proxy, pki):
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    with raw_over(tls_socket(tls_proxy, context)) as conn:
        conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        pid, secret = conn.backend_key

        def cancel_soon():
            time.sleep(0.5)
            with tls_socket(tls_proxy, context) as c:
                c.sendall(struct.pack("!IIII", 16, 80877102, pid, secret))
                c.recv(1)  # shardgate closes it after forwarding

        thread = threading.Thread(target=cancel_soon)
        thread.start()
        with pytest.raises(pgwire.ServerError) as err:
            conn.query("SELECT pg_sleep(20)")
        thread.join()
        assert err.value.fields["C"] == "57014", err.value.fields
        assert conn.query("SELECT 1") == [("1",)]  # the connection goes on


# --- certificate rotation ------------------------------------------------------------------------
def peer_serial(proxy, pki: Pki) -> int:
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    with tls_socket(proxy, context) as sock:
        der = sock.getpeercert(binary_form=True)
    from cryptography import x509
    return x509.load_der_x509_certificate(der).serial_number


def file_serial(pki: Pki, name: str) -> int:
    from cryptography import x509
    return x509.load_pem_x509_certificate(Path(pki.path(f"{name}.crt")).read_bytes()).serial_number


def wait_for_log(proxy, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proxy.log():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{proxy.log()[-3000:]}")


def test_certificate_rotation_keeps_open_connections(start_proxy, launcher, pki, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    for ext in ("crt", "key"):
        shutil.copy(pki.path(f"server.{ext}"), live / f"server.{ext}")
    tls = {"cert_file": str(live / "server.crt"), "key_file": str(live / "server.key"),
           "mode": "require"}
    proxy = start_proxy(launcher.config(tls=tls))
    assert peer_serial(proxy, pki) == file_serial(pki, "server")
    with psycopg.connect(verify_full(proxy, pki), autocommit=True) as open_conn:
        for ext in ("crt", "key"):
            shutil.copy(pki.path(f"rotated.{ext}"), live / f"server.{ext}")
        proxy.proc.send_signal(signal.SIGHUP)
        wait_for_log(proxy, "configuration reloaded")
        assert peer_serial(proxy, pki) == file_serial(pki, "rotated")
        assert open_conn.execute("SELECT current_schema()").fetchone() == ("tenant_acme",)

        # A key that does not match the certificate: refused, the rotated pair stays.
        shutil.copy(pki.path("server.key"), live / "server.key")
        proxy.proc.send_signal(signal.SIGHUP)
        wait_for_log(proxy, "reload refused")
        refusal = [line for line in proxy.log().splitlines() if "reload refused" in line][-1]
        assert "tls.key_file" in refusal and "server.key" in refusal, refusal
        assert "mismatch" in refusal or "does not match" in refusal, refusal
        assert peer_serial(proxy, pki) == file_serial(pki, "rotated")
        with psycopg.connect(verify_full(proxy, pki)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert open_conn.execute("SELECT 2").fetchone() == (2,)


# --- TLS to the shards ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_shard(cluster, pki):
    """A shard running with ssl = on, its certificate signed by the test CA for 127.0.0.1."""
    pki.make_server("shard", "IP:127.0.0.1")
    shard = cluster.start_shard("s_tls", ssl_files=(pki.path("shard.crt"), pki.path("shard.key")))
    import pgshards
    pgshards.provision_tenant(shard, "tlsco")
    return shard


def config_with_tls_shard(launcher, tls_shard, pki, **shard_tls) -> dict:
    config = launcher.config()
    config["shards"]["s_tls"] = {**tls_shard.config_entry(), **shard_tls}
    return config


def directory_with_tlsco() -> dict:
    from proxyctl import TENANT_SHARDS, directory_for
    return directory_for({**TENANT_SHARDS, "tlsco": "s_tls"})


def test_shard_connections_verify_full(start_proxy, launcher, tls_shard, pki):
    config = config_with_tls_shard(launcher, tls_shard, pki, sslmode="verify-full",
                                   sslrootcert=pki.path("ca.crt"))
    proxy = start_proxy(config, directory_with_tlsco())
    with proxy.connect("tlsco") as conn:
        # The shard's own view of the connection shardgate opened to it.
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl "
                           "WHERE pid = pg_backend_pid()").fetchone()
        assert row[0] is True and row[1].startswith("TLSv1."), row
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_tlsco",)
    with proxy.connect("acme") as conn:  # a plaintext shard next to it still works
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                            ).fetchone() == (False,)


def test_shard_certificate_that_does_not_verify_is_down(start_proxy, launcher, tls_shard, pki):
    config = config_with_tls_shard(launcher, tls_shard, pki, sslmode="verify-full",
                                   sslrootcert=pki.path("other_ca.crt"))
    proxy = start_proxy(config, directory_with_tlsco())
    message = connect_error(proxy.conninfo("tlsco"))
    assert 'shard "s_tls"' in message and "certificate verify failed" in message, message
    # verify-full against the name: the certificate names 127.0.0.1, not localhost.
    config = config_with_tls_shard(launcher, tls_shard, pki, host="localhost",
                                   sslmode="verify-full", sslrootcert=pki.path("ca.crt"))
    proxy = start_proxy(config, directory_with_tlsco())
    message = connect_error(proxy.conninfo("tlsco"))
    assert "certificate verify failed" in message and "mismatch" in message, message


def test_shard_sslmode_require_refuses_a_plaintext_shard(start_proxy, launcher, shards):
    config = launcher.config()
    config["shards"]["s1"]["sslmode"] = "require"
    proxy = start_proxy(config)
    message = connect_error(proxy.conninfo("acme"))
    assert "does not support TLS" in message, message
    config["shards"]["s1"]["sslmode"] = "prefer"
    proxy = start_proxy(config)
    with proxy.connect("acme") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- the admin TCP listener -----------------------------------------------------------------------
def test_admin_tcp_listener_takes_the_tls_block(start_proxy, launcher, pki):
    import pgshards
    admin_port = pgshards.free_port()
    config = launcher.config(tls=tls_block(pki, mode="require"),
                             admin={"listen": f"127.0.0.1:{admin_port}", "password": "admin-pw"})
    proxy = start_proxy(config)
    base = dict(host="localhost", hostaddr="127.0.0.1", port=admin_port, user="admin",
                password="admin-pw", dbname="admin", connect_timeout=10)
    conninfo = psycopg.conninfo.make_conninfo(**base, sslmode="verify-full",
                                              sslrootcert=pki.path("ca.crt"),
                                              channel_binding="require")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SHOW VERSION").fetchone()
    message = connect_error(psycopg.conninfo.make_conninfo(**base, sslmode="disable"))
    assert "TLS is required" in message, message


def test_admin_tcp_listener_checks_client_certificates_against_ca_file(start_proxy, launcher,
                                                                        pki):
    """tls.ca_file applies to the admin TCP listener as to clients: an admin over TLS must
    show a certificate from that CA."""
    import pgshards
    admin_port = pgshards.free_port()
    config = launcher.config(tls=tls_block(pki, ca_file=pki.path("ca.crt")),
                             admin={"listen": f"127.0.0.1:{admin_port}", "password": "admin-pw"})
    proxy = start_proxy(config)
    base = dict(host="localhost", hostaddr="127.0.0.1", port=admin_port, user="admin",
                password="admin-pw", dbname="admin", connect_timeout=10,
                sslmode="verify-full", sslrootcert=pki.path("ca.crt"))
    with psycopg.connect(psycopg.conninfo.make_conninfo(
            **base, sslcert=pki.path("client.crt"), sslkey=pki.path("client.key")),
            autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SHOW VERSION").fetchone()
    message = connect_error(psycopg.conninfo.make_conninfo(**base))
    assert "certificate required" in message, message
    message = connect_error(psycopg.conninfo.make_conninfo(
        **base, sslcert=pki.path("stranger.crt"), sslkey=pki.path("stranger.key")))
    assert "unknown ca" in message, message
    assert proxy.proc.poll() is None


# --- memory ---------------------------------------------------------------------------------------
def test_slow_tls_client_holds_bounded_memory(start_proxy, launcher, pki):
    """A TLS client that stops reading while 100 MB stream to it: shardgate's peak RSS grows
    by a few buffers, not by what the shard keeps sending (it stops reading the shard)."""
    proxy = start_proxy(launcher.config(tls=tls_block(pki, mode="require")))
    context = ssl.create_default_context(cafile=pki.path("ca.crt"))
    with raw_over(tls_socket(proxy, context)) as conn:
        conn.startup("app", APP_PASSWORD, options="-c shardgate.tenant=acme")
        assert conn.query("SELECT 1") == [("1",)]
        before_kb = proxy.status_kb("VmHWM")
        conn.send_query("COPY (SELECT repeat('x', 1000) FROM generate_series(1, 100000)) "
                        "TO STDOUT")
        time.sleep(3)  # not reading: everything the shard sends piles up somewhere
        stalled_kb = proxy.status_kb("VmHWM") - before_kb
        received = 0
        while True:
            msg = conn.read_message()
            if msg.type == b"d":
                received += len(msg.body)
            elif msg.type == b"Z":
                break
        assert received == 100000 * 1001
        growth_kb = proxy.status_kb("VmHWM") - before_kb
    # The same bound test_streaming.py holds plaintext streams to.
    assert stalled_kb < 32 * 1024, f"peak RSS grew {stalled_kb} kB while the client stalled"
    assert growth_kb < 64 * 1024, f"peak RSS grew {growth_kb} kB over the whole stream"
