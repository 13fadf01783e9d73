"""A tiny PostgreSQL v3 wire client for tests that need the raw bytes.

libpq does not expose the SQLSTATE of a FATAL sent during startup, and some tests must send
malformed packets or see every message (ParameterStatus, BackendKeyData). This client speaks
just enough of the protocol: startup, cleartext/md5/SCRAM-SHA-256 authentication, simple query.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass, field

PROTOCOL_3_0 = 196608


@dataclass
class Message:
    type: bytes
    body: bytes


@dataclass
class ServerError(Exception):
    """An ErrorResponse: fields by their one-letter code ('S', 'C', 'M', ...)."""
    fields: dict

    @property
    def sqlstate(self) -> str:
        return self.fields.get("C", "")

    @property
    def severity(self) -> str:
        return self.fields.get("V") or self.fields.get("S", "")

    @property
    def message(self) -> str:
        return self.fields.get("M", "")

    def __str__(self) -> str:
        return f"{self.severity} {self.sqlstate}: {self.message}"


def parse_error_fields(body: bytes) -> dict:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def startup_packet(params: dict, version: int = PROTOCOL_3_0) -> bytes:
    body = struct.pack("!I", version)
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def message(type_: bytes, body: bytes) -> bytes:
    return type_ + struct.pack("!I", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


class RawConnection:
    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.parameters: dict[str, str] = {}
        self.backend_key: tuple[int, int] | None = None
        self.messages: list[Message] = []   # every message received during startup

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def read_message(self) -> Message:
        header = self._recv_exact(5)
        length = struct.unpack("!I", header[1:])[0]
        if length < 4 or length > 64 * 1024 * 1024:
            raise ConnectionError(f"bad message length {length} for type {header[:1]!r}")
        return Message(header[:1], self._recv_exact(length - 4))

    # --- startup -----------------------------------------------------------------------------
    def startup(self, user: str, password: str | None, database: str = "app",
                options: str | None = None, **extra: str) -> None:
        """Runs startup and authentication up to ReadyForQuery; raises ServerError."""
        params = {"user": user, "database": database, **extra}
        if options is not None:
            params["options"] = options
        self.send(startup_packet(params))
        scram: ScramClient | None = None
        while True:
            msg = self.read_message()
            self.messages.append(msg)
            if msg.type == b"E":
                raise ServerError(parse_error_fields(msg.body))
            if msg.type == b"R":
                code = struct.unpack("!I", msg.body[:4])[0]
                if code == 0:
                    continue
                if code == 3:
                    self.send(message(b"p", cstr(password or "")))
                elif code == 5:
                    salt = msg.body[4:8]
                    self.send(message(b"p", cstr(md5_password(user, password or "", salt))))
                elif code == 10:
                    mechanisms = [m for m in msg.body[4:].split(b"\0") if m]
                    if b"SCRAM-SHA-256" not in mechanisms:
                        raise ConnectionError(f"no SCRAM-SHA-256 in {mechanisms}")
                    scram = ScramClient(password or "")
                    first = scram.client_first()
                    self.send(message(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
                elif code == 11:
                    self.send(message(b"p", scram.client_final(msg.body[4:])))
                elif code == 12:
                    scram.verify_server_final(msg.body[4:])
                else:
                    raise ConnectionError(f"unsupported authentication request {code}")
            elif msg.type == b"S":
                key, value, _ = msg.body.split(b"\0", 2)
                self.parameters[key.decode()] = value.decode()
            elif msg.type == b"K":
                self.backend_key = struct.unpack("!II", msg.body[:8])
            elif msg.type == b"Z":
                return
            # 'N' notices and anything else are kept in self.messages

    # --- simple query --------------------------------------------------------------------------
    def send_query(self, sql: str) -> None:
        self.send(message(b"Q", cstr(sql)))

    def query(self, sql: str) -> list[tuple]:
        """Runs a simple query; returns data rows as tuples of str/None; raises ServerError."""
        self.send_query(sql)
        rows, error = [], None
        while True:
            msg = self.read_message()
            if msg.type == b"D":
                rows.append(parse_data_row(msg.body))
            elif msg.type == b"E":
                error = ServerError(parse_error_fields(msg.body))
            elif msg.type == b"Z":
                if error:
                    raise error
                return rows

    def terminate(self) -> None:
        self.send(message(b"X", b""))


def parse_data_row(body: bytes) -> tuple:
    count = struct.unpack("!H", body[:2])[0]
    pos, values = 2, []
    for _ in range(count):
        length = struct.unpack("!i", body[pos:pos + 4])[0]
        pos += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[pos:pos + length].decode())
            pos += length
    return tuple(values)


def md5_password(user: str, password: str, salt: bytes) -> str:
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


class ScramClient:
    """SCRAM-SHA-256 client side (RFC 5802/7677), no channel binding."""

    def __init__(self, password: str):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_signature = b""

    def client_first(self) -> bytes:
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first: bytes) -> bytes:
        attrs = dict(item.split("=", 1) for item in server_first.decode().split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(self.nonce):
            raise ConnectionError("server nonce does not extend the client nonce")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        final_without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self.first_bare},{server_first.decode()},{final_without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{final_without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify_server_final(self, server_final: bytes) -> None:
        text = server_final.decode()
        if not text.startswith("v=") or base64.b64decode(text[2:]) != self.server_signature:
            raise ConnectionError(f"bad SCRAM server signature: {text}")


def startup_error(host: str, port: int, user: str, password: str | None, **kwargs) -> ServerError:
    """Connects and expects startup to fail; returns the ErrorResponse."""
    with RawConnection(host, port) as conn:
        try:
            conn.startup(user, password, **kwargs)
        except ServerError as err:
            return err
    raise AssertionError(f"startup as {user!r} {kwargs} succeeded but an error was expected")
