"""TLS mode of bench/compare.py (--tls): one certificate for both proxies, the config lines
that turn TLS on towards pgbench, and what a handshake agreed on.

Both proxies show the same certificate (ECDSA P-256, signed by a CA made here with openssl)
and refuse plaintext: PgBouncer with client_tls_sslmode = require, shardgate with tls.mode:
require. pgbench connects with sslmode=require; the shard itself stays plaintext, so only
the client side of each proxy does TLS work.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass
class Certificate:
    cert_file: Path
    key_file: Path


def _openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{out.stderr}")


def make_certificate(work: Path, owner: tuple[int, int] | None) -> Certificate:
    """A CA and a server certificate for 127.0.0.1/localhost in work/tls; `owner` (uid, gid)
    gets the files when the proxies run as another user (PgBouncer as sgtest)."""
    d = work / "tls"
    d.mkdir()
    os.chmod(d, 0o755)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=compare.py CA", cwd=d)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
             cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
             cwd=d)
    for name in ("server.crt", "server.key"):
        os.chmod(d / name, 0o600)
        if owner is not None:
            os.chown(d / name, *owner)
    return Certificate(d / "server.crt", d / "server.key")


def pgbouncer_lines(cert: Certificate | None) -> str:
    """The [pgbouncer] lines for client TLS (the default ciphers and protocols)."""
    if cert is None:
        return "client_tls_sslmode = disable\n"
    return (f"client_tls_sslmode = require\n"
            f"client_tls_cert_file = {cert.cert_file}\n"
            f"client_tls_key_file = {cert.key_file}\n")


def shardgate_lines(cert: Certificate | None) -> str:
    """The shardgate.yaml `tls` block (the default ciphers and minimum version)."""
    if cert is None:
        return ""
    return (f"tls: {{ mode: require, cert_file: {cert.cert_file}, "
            f"key_file: {cert.key_file} }}\n")


def describe(conn: psycopg.Connection) -> str:
    """What the handshake of a connection agreed on, e.g. 'TLSv1.3 TLS_AES_256_GCM_SHA384'.
    psycopg 3.1 does not wrap PQsslAttribute, so it is called in libpq through ctypes."""
    pg = conn.pgconn
    if not pg.ssl_in_use:
        return "plaintext"
    try:
        libpq = ctypes.CDLL(ctypes.util.find_library("pq"))
        libpq.PQsslAttribute.restype = ctypes.c_char_p
        libpq.PQsslAttribute.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        attrs = [libpq.PQsslAttribute(pg.pgconn_ptr, a) for a in (b"protocol", b"cipher")]
    except (OSError, AttributeError):
        return "TLS"
    return " ".join(a.decode() for a in attrs if a)
