"""A client that vanishes mid-query frees its server connection: the shard stops running its
query within a few seconds (the backend is gone, or at least no longer busy with it)."""
import subprocess
import time
import uuid

import pgwire
from proxyctl import APP_PASSWORD

FREED_WITHIN_S = 5.0


def busy_backends(shard, marker):
    return shard.sql("SELECT pid, state FROM pg_stat_activity WHERE query LIKE %s "
                     "AND pid <> pg_backend_pid() AND state = 'active'", (f"%{marker}%",))


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_killed_psql_frees_server_connection(proxy, shards):
    s1 = shards["s1"]
    marker = f"vanish_{uuid.uuid4().hex[:10]}"
    proc = subprocess.Popen(["psql", "-X", "-c", f"SELECT pg_sleep(30) /* {marker} */"],
                            env=proxy.libpq_env(tenant="acme"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: busy_backends(s1, marker), 5.0), "query never reached the shard"
        proc.kill()
        proc.wait(timeout=5)
        freed = wait_until(lambda: not busy_backends(s1, marker), FREED_WITHIN_S)
        assert freed, f"shard still runs the vanished client's query after {FREED_WITHIN_S}s: " \
                      f"{busy_backends(s1, marker)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        s1.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s "
               "AND pid <> pg_backend_pid()", (f"%{marker}%",))


def test_closed_raw_socket_frees_server_connection(proxy, shards):
    s2 = shards["s2"]
    marker = f"vanish_{uuid.uuid4().hex[:10]}"
    conn = pgwire.RawConnection(proxy.host, proxy.port)
    try:
        conn.startup("app.globex", APP_PASSWORD)
        conn.send_query(f"SELECT pg_sleep(30) /* {marker} */")
        assert wait_until(lambda: busy_backends(s2, marker), 5.0), "query never reached the shard"
    finally:
        conn.close()
    try:
        freed = wait_until(lambda: not busy_backends(s2, marker), FREED_WITHIN_S)
        assert freed, f"shard still runs the vanished client's query after {FREED_WITHIN_S}s"
    finally:
        s2.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s "
               "AND pid <> pg_backend_pid()", (f"%{marker}%",))
    with proxy.connect(tenant="globex") as conn2:  # and the proxy still serves
        assert conn2.execute("SELECT current_schema()").fetchone() == ("tenant_globex",)
