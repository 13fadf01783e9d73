#!/usr/bin/env python3
"""A process that holds many idle PostgreSQL client connections, for bench/scale.py.

Each connection is an asyncio Protocol speaking the wire protocol by hand (startup, md5 or
SCRAM-SHA-256 or cleartext password, then ReadyForQuery): a few KiB per connection here, so
one process holds thousands. Source addresses come from --source (a loopback address of its
own per process), because one address has only ~28k ephemeral ports.

Talks to its parent over stdin/stdout, one JSON object per line:
  -> {"event": "connected", "ok": N, "failed": N, "start": t, "end": t, "errors": [...]}
  <- "check K"   (query K of the connections, K = -1 for all, SELECT 1 each)
  -> {"event": "checked", "ok": N, "failed": N, "errors": [...]}
  <- "close"     (closes everything and exits)
Every wait is bounded by --timeout.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import struct
import sys
import time


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def startup_packet(params: dict[str, str]) -> bytes:
    body = struct.pack("!I", 196608)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


class Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802/7677), without channel binding."""

    def __init__(self, password: str):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        data = ("n,," + self.first_bare).encode()
        return b"SCRAM-SHA-256\0" + struct.pack("!I", len(data)) + data

    def final(self, server_first: bytes) -> bytes:
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        salt, iters, nonce = base64.b64decode(attrs["s"]), int(attrs["i"]), attrs["r"]
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, iters)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={nonce}"
        auth_msg = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored, auth_msg, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, auth_msg, "sha256")
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()


class Client(asyncio.Protocol):
    def __init__(self, user: str, password: str, params: dict[str, str]):
        self.user, self.password, self.params = user, password, params
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self.answer: asyncio.Future | None = None
        self.rows = 0
        self.scram: Scram | None = None
        self.error = ""

    def connection_made(self, transport):
        self.transport = transport
        transport.write(startup_packet(self.params))

    def connection_lost(self, exc):
        self.fail(f"connection closed{': ' + str(exc) if exc else ''}")

    def fail(self, why: str):
        self.error = self.error or why
        for fut in (self.ready, self.answer):
            if fut is not None and not fut.done():
                fut.set_exception(RuntimeError(self.error))

    def data_received(self, data):
        self.buf += data
        while len(self.buf) >= 5:
            kind = self.buf[0:1]
            length = struct.unpack_from("!I", self.buf, 1)[0]
            if len(self.buf) < length + 1:
                return
            body = bytes(self.buf[5:length + 1])
            del self.buf[:length + 1]
            self.on_message(kind, body)

    def on_message(self, kind: bytes, body: bytes):
        if kind == b"R":
            self.on_auth(struct.unpack_from("!I", body)[0], body[4:])
        elif kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            self.fail(f"{fields.get(b'C', b'').decode()} {fields.get(b'M', b'').decode()}")
        elif kind == b"D":
            self.rows += 1
        elif kind == b"Z":
            fut = self.answer if self.answer is not None else self.ready
            if not fut.done():
                fut.set_result(self.rows)

    def on_auth(self, code: int, rest: bytes):
        if code == 0:
            return
        if code == 3:
            self.transport.write(message(b"p", self.password.encode() + b"\0"))
        elif code == 5:
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest().encode()
            digest = "md5" + hashlib.md5(inner + rest[:4]).hexdigest()
            self.transport.write(message(b"p", digest.encode() + b"\0"))
        elif code == 10:
            self.scram = Scram(self.password)
            self.transport.write(message(b"p", self.scram.first()))
        elif code == 11:
            self.transport.write(message(b"p", self.scram.final(rest)))
        elif code == 12:
            if not rest.startswith(b"v=") or base64.b64decode(rest[2:]) != self.scram.server_signature:
                self.fail("SCRAM server signature mismatch")
        else:
            self.fail(f"unsupported authentication request {code}")

    async def query(self, sql: str, timeout: float) -> int:
        self.rows = 0
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(message(b"Q", sql.encode() + b"\0"))
        return await asyncio.wait_for(self.answer, timeout)


async def bounded(items, limit: int, fn):
    sem = asyncio.Semaphore(limit)

    async def one(item):
        async with sem:
            return await fn(item)
    return await asyncio.gather(*(one(i) for i in items), return_exceptions=True)


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main_async(args) -> None:
    loop = asyncio.get_running_loop()
    params = {"user": args.user, "database": args.dbname, "application_name": "scale"}
    if args.options:
        params["options"] = args.options
    clients: list[Client] = []

    async def connect(_):
        _, proto = await asyncio.wait_for(loop.create_connection(
            lambda: Client(args.user, args.password, params), args.host, args.port,
            local_addr=(args.source, 0)), args.timeout)
        await asyncio.wait_for(proto.ready, args.timeout)
        clients.append(proto)

    start = time.time()
    results = await bounded(range(args.count), args.concurrency, connect)
    end = time.time()
    errors = sorted({str(r) or type(r).__name__ for r in results if isinstance(r, BaseException)})
    emit({"event": "connected", "ok": len(clients), "failed": args.count - len(clients),
          "start": start, "end": end, "errors": errors[:5]})

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    for _ in range(4):  # check, close: a bounded number of commands
        line = (await asyncio.wait_for(reader.readline(), args.idle_timeout)).decode().split()
        if not line or line[0] == "close":
            break
        if line[0] == "check":
            k = int(line[1])
            sample = clients if k < 0 or k >= len(clients) else random.sample(clients, k)

            async def ask(c: Client):
                rows = await c.query("SELECT 1", args.timeout)
                if rows != 1:
                    raise RuntimeError(f"{rows} rows")
            res = await bounded(sample, args.concurrency, ask)
            bad = [r for r in res if isinstance(r, BaseException)]
            emit({"event": "checked", "ok": len(sample) - len(bad), "failed": len(bad),
                  "errors": sorted({str(r) for r in bad})[:5]})
    for c in clients:
        c.transport.write(message(b"X", b""))
        c.transport.close()
    await asyncio.sleep(0.2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.1", help="local address to connect from")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--dbname", required=True)
    p.add_argument("--options", default="")
    p.add_argument("--concurrency", type=int, default=200, help="connects in flight")
    p.add_argument("--timeout", type=float, default=60, help="per connect / per query")
    p.add_argument("--idle-timeout", type=float, default=900,
                   help="longest wait for the parent's next command")
    args = p.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
