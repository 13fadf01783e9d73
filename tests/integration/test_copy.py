"""COPY in and out through shardgate: psycopg's copy and psql's \\copy, checked on the shard."""
import psycopg
import pytest

from proxyctl import psql

ROWS = [(n, f"initech copy row {n}\twith tab") for n in range(1, 1001)]


@pytest.fixture
def copy_table(proxy, shards):
    with proxy.connect(tenant="initech") as conn:
        conn.execute("DROP TABLE IF EXISTS copy_items")
        conn.execute("CREATE TABLE copy_items (id int PRIMARY KEY, body text)")
    yield "copy_items"
    shards["s1"].sql("DROP TABLE IF EXISTS tenant_initech.copy_items")


def test_psycopg_copy_in_and_out(proxy, shards, copy_table):
    with proxy.connect(tenant="initech") as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY copy_items (id, body) FROM STDIN") as copy:
                for row in ROWS:
                    copy.write_row(row)
            with cur.copy("COPY (SELECT id, body FROM copy_items ORDER BY id) TO STDOUT") as copy:
                copy.set_types(["int4", "text"])
                assert list(copy.rows()) == ROWS
    s1 = shards["s1"]
    assert s1.scalar("SELECT count(*) FROM tenant_initech.copy_items") == len(ROWS)
    assert s1.scalar("SELECT body FROM tenant_initech.copy_items WHERE id = 7") == ROWS[6][1]
    assert s1.scalar("SELECT to_regclass('public.copy_items') IS NULL")


def test_failed_copy_in_leaves_connection_usable(proxy, copy_table):
    with proxy.connect(tenant="initech") as conn:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with conn.cursor().copy("COPY copy_items (id, body) FROM STDIN") as copy:
                copy.write(b"1\tok\nnot-a-number\tbad\n")
        assert conn.execute("SELECT count(*) FROM copy_items").fetchone() == (0,)
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_initech",)


def test_psql_backslash_copy(proxy, shards, copy_table, tmp_path):
    source = tmp_path / "in.tsv"
    source.write_text("".join(f"{n}\tpsql row {n}\n" for n in range(1, 501)))
    out = psql(proxy, f"\\copy copy_items from '{source}'", tenant="initech")
    assert out.returncode == 0, out.stderr
    target = tmp_path / "out.tsv"
    out = psql(proxy, f"\\copy (SELECT * FROM copy_items ORDER BY id) to '{target}'", tenant="initech")
    assert out.returncode == 0, out.stderr
    assert target.read_text() == source.read_text()
    assert shards["s1"].scalar("SELECT count(*) FROM tenant_initech.copy_items") == 500
