"""Streaming, not buffering: 200 MB pass through with the proxy's peak RSS growing < 64 MB."""
import subprocess
import time

ROWS = 200_000
ROW_BYTES = 1001  # 1000 x's and a newline
MAX_GROWTH_KB = 64 * 1024


def test_200mb_copy_out_streams_with_bounded_memory(start_proxy):
    proxy = start_proxy()  # fresh process: its peak RSS is this test's alone
    with proxy.connect(tenant="acme") as conn:  # warm up: one session through the data path
        conn.execute("SELECT 1")
    before_kb = proxy.status_kb("VmHWM")
    env = proxy.libpq_env(tenant="acme")
    started = time.monotonic()
    proc = subprocess.Popen(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-c",
         f"COPY (SELECT repeat('x', 1000) FROM generate_series(1, {ROWS})) TO STDOUT"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    received = 0
    while True:
        chunk = proc.stdout.read(1 << 20)
        if not chunk:
            break
        received += len(chunk)
        assert time.monotonic() - started < 120, "200 MB stream took over 120 s"
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0, stderr
    after_kb = proxy.status_kb("VmHWM")
    assert received == ROWS * ROW_BYTES
    growth_kb = after_kb - before_kb
    assert growth_kb < MAX_GROWTH_KB, f"peak RSS grew by {growth_kb // 1024} MB ({before_kb} -> {after_kb} kB)"


def test_200mb_copy_in_streams_with_bounded_memory(start_proxy, shards):
    proxy = start_proxy()
    with proxy.connect(tenant="initech") as conn:
        conn.execute("DROP TABLE IF EXISTS bulk_in")
        conn.execute("CREATE UNLOGGED TABLE bulk_in (t text)")
    before_kb = proxy.status_kb("VmHWM")
    line = b"y" * 1000 + b"\n"
    chunk = line * 1000  # ~1 MB
    proc = subprocess.Popen(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "COPY bulk_in FROM STDIN"],
                            env=proxy.libpq_env(tenant="initech"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.monotonic()
    try:
        for _ in range(ROWS // 1000):
            proc.stdin.write(chunk)
            assert time.monotonic() - started < 120, "200 MB COPY IN took over 120 s"
        proc.stdin.close()
        out, err = proc.stdout.read(), proc.stderr.read()
        assert proc.wait(timeout=60) == 0, err.decode()
        assert out.decode().strip() == f"COPY {ROWS}"
        growth_kb = proxy.status_kb("VmHWM") - before_kb
        assert growth_kb < MAX_GROWTH_KB, f"peak RSS grew by {growth_kb // 1024} MB"
        assert shards["s1"].scalar("SELECT count(*) FROM tenant_initech.bulk_in") == ROWS
    finally:
        if proc.poll() is None:
            proc.kill()
        shards["s1"].sql("DROP TABLE IF EXISTS tenant_initech.bulk_in")
