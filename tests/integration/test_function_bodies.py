"""Function bodies and DO blocks in sql and plpgsql work through shardgate (SPEC "The guard":
their statements and expressions are read and judged, not refused as such), and what they
create lands in the tenant's own schema.

What ORMs and migration tools send: a trigger function and its trigger (Django, knex), a SQL
function, a DO block, Sequelize's ENUM creation (DO '... EXCEPTION WHEN duplicate_object ...')
and Sequelize's findOrCreate (a pg_temp PL/pgSQL function created, called and dropped in one
simple query). Run for a transaction-mode and a session-mode tier; afterwards the objects are
looked up directly on the shard. A body naming another tenant's schema is still refused.
"""
from __future__ import annotations

import psycopg
import pytest

TIERS = {
    "txn": {"pool": "shared", "pool_size": 4, "pool_mode": "transaction", "pool_timeout": "5s"},
    "sess": {"pool": "shared", "pool_size": 4, "pool_mode": "session"},
}
TENANT_TIER = {"acme": "txn", "initech": "sess"}  # both on shard s1

TOUCH = """CREATE OR REPLACE FUNCTION fb_touch() RETURNS trigger AS $$
DECLARE
  n integer := 0;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.body IS DISTINCT FROM OLD.body THEN
    n := n + 1;
  END IF;
  NEW.body_len := length(NEW.body);
  NEW.touched = coalesce(OLD.touched, 0) + 1 + n;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql"""

ENUM_DO = ("DO 'BEGIN CREATE TYPE \"{schema}\".\"enum_fb_status\" AS ENUM(''new'', ''done''); "
           "EXCEPTION WHEN duplicate_object THEN null; END';")

FIND_OR_CREATE = (
    "CREATE OR REPLACE FUNCTION pg_temp.testfunc(OUT response \"{schema}\".\"fb_notes\", "
    "OUT sequelize_caught_exception text) RETURNS RECORD AS $func_1$ BEGIN INSERT INTO "
    "\"{schema}\".\"fb_notes\" (\"id\",\"body\") VALUES (100,'found') RETURNING * INTO response; "
    "EXCEPTION WHEN unique_violation THEN GET STACKED DIAGNOSTICS sequelize_caught_exception = "
    "PG_EXCEPTION_DETAIL; END $func_1$ LANGUAGE plpgsql; SELECT (testfunc.response).*, "
    "testfunc.sequelize_caught_exception FROM pg_temp.testfunc(); "
    "DROP FUNCTION IF EXISTS pg_temp.testfunc();")


def clean(shard, schema: str) -> None:
    shard.sql(f"DROP TABLE IF EXISTS {schema}.fb_notes CASCADE")
    shard.sql(f"DROP FUNCTION IF EXISTS {schema}.fb_touch(), {schema}.fb_add(int)")
    shard.sql(f"DROP TYPE IF EXISTS {schema}.enum_fb_status")


@pytest.fixture(scope="module")
def fb_proxy(launcher, shards):
    s1 = shards["s1"]
    for tenant in TENANT_TIER:
        clean(s1, f"tenant_{tenant}")
    config = launcher.config(tiers=TIERS)
    directory = {"tenants": {t: {"shard": "s1", "tier": tier, "schema": f"tenant_{t}"}
                             for t, tier in TENANT_TIER.items()}}
    proxy = launcher.start(config, directory)
    yield proxy
    failure = launcher.stop(proxy)
    for tenant in TENANT_TIER:
        clean(s1, f"tenant_{tenant}")
    assert failure is None, failure


def results(cur: psycopg.Cursor) -> list:
    """Rows of every result of a multi-statement simple query."""
    rows = []
    while True:
        if cur.description is not None:
            rows.extend(cur.fetchall())
        if not cur.nextset():
            return rows


def on_shard(shard, schema: str) -> dict:
    """What the tenant's statements created, looked up in the catalogs by schema."""
    def names(sql):
        return sorted(r[0] for r in shard.sql(sql, (schema,)))
    return {
        "functions": names("SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
                           "ON n.oid = p.pronamespace WHERE n.nspname = %s "
                           "AND p.proname LIKE 'fb\\_%%'"),
        "triggers": names("SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                          "JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = %s AND NOT t.tgisinternal"),
        "types": names("SELECT t.typname FROM pg_type t JOIN pg_namespace n "
                       "ON n.oid = t.typnamespace WHERE n.nspname = %s "
                       "AND t.typname = 'enum_fb_status'"),
    }


@pytest.mark.parametrize("tenant", list(TENANT_TIER))
def test_functions_triggers_and_do_blocks_work(tenant, fb_proxy, shards):
    s1 = shards["s1"]
    schema = f"tenant_{tenant}"
    with fb_proxy.connect(tenant=tenant) as conn:
        conn.execute("CREATE TABLE fb_notes (id serial PRIMARY KEY, body text, body_len int, "
                     "touched int)")
        conn.execute(TOUCH)
        conn.execute("CREATE TRIGGER fb_touch BEFORE INSERT OR UPDATE ON fb_notes "
                     "FOR EACH ROW EXECUTE FUNCTION fb_touch()")
        # The trigger runs on insert and on update.
        row = conn.execute("INSERT INTO fb_notes (body) VALUES ('hello') "
                           "RETURNING body_len, touched").fetchone()
        assert row == (5, 1)
        row = conn.execute("UPDATE fb_notes SET body = 'hello world' WHERE body = 'hello' "
                           "RETURNING body_len, touched").fetchone()
        assert row == (11, 3)

        conn.execute("CREATE FUNCTION fb_add(a int) RETURNS int LANGUAGE sql "
                     "AS $$ SELECT a + 1 $$")
        assert conn.execute("SELECT fb_add(41)").fetchone() == (42,)

        conn.execute("DO $$ BEGIN FOR i IN 1..2 LOOP INSERT INTO fb_notes (body) "
                     "VALUES ('from do ' || i); END LOOP; END $$")
        assert conn.execute("SELECT count(*) FROM fb_notes WHERE body LIKE 'from do %' "
                            "AND body_len = 9").fetchone() == (2,)

        for _ in range(2):  # the second time takes the EXCEPTION branch
            conn.execute(ENUM_DO.format(schema=schema))
        assert conn.execute("SELECT enum_range(NULL::enum_fb_status)::text").fetchone() == \
            ("{new,done}",)

        with conn.cursor() as cur:  # created, then found: the unique violation is caught
            cur.execute(FIND_OR_CREATE.format(schema=schema))
            first = results(cur)
            cur.execute(FIND_OR_CREATE.format(schema=schema))
            second = results(cur)
        assert first[0][:2] == (100, "found") and first[0][-1] is None, first
        assert second[0][0] is None and "already exists" in second[0][-1], second

        # A body reaching another tenant's schema is still refused.
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            conn.execute("DO $$ BEGIN PERFORM count(*) FROM tenant_globex.items; END $$")
        assert "tenant_globex" in str(refused.value)
        assert conn.execute("SELECT current_schema()").fetchone() == (schema,)

    # Everything landed in the tenant's own schema, nothing in public.
    assert on_shard(s1, schema) == {"functions": ["fb_add", "fb_touch"],
                                    "triggers": ["fb_touch"], "types": ["enum_fb_status"]}
    assert on_shard(s1, "public") == {"functions": [], "triggers": [], "types": []}
    assert s1.scalar(f"SELECT count(*) FROM {schema}.fb_notes") == 4
