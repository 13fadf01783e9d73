"""Session-level tenant switching on ONE client connection, across shards (SPEC.md
"Identifying the tenant" items 4 and 5; issue 3).

Default directory: acme and initech on s1, globex and benchco on s2, each with rows
'<tenant> secret 1..3' in tenant_<id>.items; public.items holds 'public leak' rows.

- `SET shardgate.tenant = 'acme'` / `SET shardgate.tenant TO globex` / `SHOW` / `RESET`
  are answered by shardgate; the statements that follow run as that tenant, on its shard.
- No tenant set (after RESET, or never) → ERROR 28000, connection usable.
- Inside a transaction block the switch is refused (PostgreSQL's code for "cannot run inside
  a transaction block" is 25001; 0A000 is accepted too) and the tenant stays what it was.
- A tenant the user may not act for → 42501; a tenant not in the directory → 3D000.
- The `search_path` source: an unchanged schema-per-tenant app (Rails Apartment /
  django-tenants style) switches tenants with plain `SET search_path` and is routed to the
  right shard; a search_path that names no tenant is refused with 42501.

Run for both pool modes (the issue asks for switching "in both pool modes").
"""
import psycopg
import pytest

from proxyctl import APP_PASSWORD, TENANT_SHARDS

from txn_helpers import ext_connect, txn_config

WHERE = "SELECT current_setting('shardgate.tenant'), current_schema(), inet_server_port()"
ALL_TENANTS = ["acme", "globex", "initech", "benchco"]
MODES = ["transaction", "session"]


def expect_rows(tenant):
    return [f"{tenant} secret {n}" for n in (1, 2, 3)]


def bodies(conn):
    return [b for (b,) in conn.execute("SELECT body FROM items ORDER BY id")][:3]


def assert_is(conn, shards, tenant):
    """The next statements run as `tenant`: its setting, schema, shard port and rows."""
    assert conn.execute(WHERE).fetchone() == (tenant, f"tenant_{tenant}",
                                              shards[TENANT_SHARDS[tenant]].port)
    rows = bodies(conn)
    assert rows == expect_rows(tenant), rows


def sqlstate_of(conn, sql):
    """Runs `sql`, expecting an error; returns its SQLSTATE."""
    with pytest.raises(psycopg.Error) as err:
        conn.execute(sql)
    return err.value.sqlstate


@pytest.fixture(params=MODES)
def switch_proxy(request, start_proxy, launcher):
    config = txn_config(launcher, sources=["options", "user_suffix", "session"],
                        pool_size=4, pool_mode=request.param)
    return start_proxy(config)


def test_set_show_reset_across_shards_on_one_connection(switch_proxy, shards):
    with switch_proxy.connect() as conn:  # no tenant at startup: allowed with `session`
        # Nothing set yet: a statement is refused with 28000 and the connection stays usable.
        assert sqlstate_of(conn, "SELECT body FROM items") == "28000"

        conn.execute("SET shardgate.tenant = 'acme'")
        assert conn.execute("SHOW shardgate.tenant").fetchone() == ("acme",)
        assert_is(conn, shards, "acme")                       # s1

        conn.execute("SET shardgate.tenant TO globex")
        assert conn.execute("SHOW shardgate.tenant").fetchone() == ("globex",)
        assert_is(conn, shards, "globex")                     # s2

        conn.execute("SET shardgate.tenant TO 'initech'")     # back to s1, another schema
        assert_is(conn, shards, "initech")

        conn.execute("RESET shardgate.tenant")
        assert sqlstate_of(conn, "SELECT body FROM items") == "28000"
        assert sqlstate_of(conn, "SELECT 1") == "28000"       # every statement, not just one

        conn.execute("SET shardgate.tenant = 'benchco'")      # usable after the 28000s
        assert_is(conn, shards, "benchco")


def test_switch_many_times_in_a_loop(switch_proxy, shards):
    """A connection pool of an app serving requests of many tenants: 40 switches, each
    followed by a read that must be the current tenant's, on its shard."""
    with switch_proxy.connect() as conn:
        for i in range(40):
            tenant = ALL_TENANTS[(i * 3) % len(ALL_TENANTS)]
            conn.execute(f"SET shardgate.tenant = '{tenant}'")
            assert_is(conn, shards, tenant)


def test_switch_inside_transaction_block_is_refused(switch_proxy, shards):
    with switch_proxy.connect() as conn:
        conn.execute("SET shardgate.tenant = 'acme'")
        conn.execute("BEGIN")
        assert conn.execute("SELECT body FROM items ORDER BY id LIMIT 1").fetchone() == ("acme secret 1",)
        state = sqlstate_of(conn, "SET shardgate.tenant = 'globex'")
        assert state in ("25001", "0A000"), state
        conn.execute("ROLLBACK")
        assert_is(conn, shards, "acme")                       # the refused switch did nothing
        conn.execute("BEGIN")
        assert sqlstate_of(conn, "RESET shardgate.tenant") in ("25001", "0A000")
        conn.execute("ROLLBACK")
        assert_is(conn, shards, "acme")


def test_switch_to_tenant_user_may_not_act_for_is_42501(switch_proxy, shards):
    with switch_proxy.connect(user="acme_only") as conn:      # tenants: [acme]
        conn.execute("SET shardgate.tenant = 'acme'")
        assert_is(conn, shards, "acme")
        assert sqlstate_of(conn, "SET shardgate.tenant = 'globex'") == "42501"
        assert_is(conn, shards, "acme")                       # still acme, still usable
        assert sqlstate_of(conn, "SET shardgate.tenant TO initech") == "42501"
        assert_is(conn, shards, "acme")


def test_switch_to_unknown_tenant_is_3D000(switch_proxy, shards):
    with switch_proxy.connect() as conn:
        conn.execute("SET shardgate.tenant = 'globex'")
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SET shardgate.tenant = 'nosuchtenant'")
        assert err.value.sqlstate == "3D000"
        assert "nosuchtenant" in str(err.value)
        assert_is(conn, shards, "globex")


def test_startup_tenant_can_be_switched(switch_proxy, shards):
    """A tenant named at startup (options) is the starting point; SET moves away from it."""
    with switch_proxy.connect(tenant="globex") as conn:
        assert_is(conn, shards, "globex")
        conn.execute("SET shardgate.tenant = 'acme'")
        assert_is(conn, shards, "acme")


def test_set_tenant_through_extended_protocol_with_no_tenant_yet(switch_proxy, shards):
    """Drivers may send SET through the extended protocol (Parse/Bind/Execute). SPEC: SET
    shardgate.tenant is answered by shardgate itself, so it needs no tenant beforehand."""
    with ext_connect(switch_proxy, None) as conn:
        r = conn.prepare_and_run("", "SET shardgate.tenant = 'globex'")
        assert (r.sqlstates, r.tags) == ([], ["SET"]), r
        assert conn.simple(WHERE).rows == [("globex", "tenant_globex", str(shards["s2"].port))]


def test_prepared_set_tenant_switches_on_every_execution(switch_proxy, shards):
    """psycopg (default prepare_threshold=5) prepares a SET it has run 5 times and from then
    on only Binds/Executes it. Each execution of a prepared `SET shardgate.tenant` must
    switch; answering 'SET' without switching would run the app's next statements as the
    previous tenant (another tenant's rows)."""
    with ext_connect(switch_proxy, None) as conn:
        assert conn.simple("SET shardgate.tenant = 'initech'").tags == ["SET"]
        r = conn.prepare_and_run("set_acme", "SET shardgate.tenant = 'acme'")
        assert (r.sqlstates, r.tags) == ([], ["SET"]), r
        assert conn.simple(WHERE).rows == [("acme", "tenant_acme", str(shards["s1"].port))]
        assert conn.simple("SET shardgate.tenant = 'globex'").tags == ["SET"]
        assert conn.simple(WHERE).rows == [("globex", "tenant_globex", str(shards["s2"].port))]
        r = conn.run_named("set_acme")                       # Bind + Execute only
        assert (r.sqlstates, r.tags) == ([], ["SET"]), r
        assert conn.simple(WHERE).rows == [("acme", "tenant_acme", str(shards["s1"].port))], \
            "re-executing a prepared SET shardgate.tenant answered SET but did not switch"


# --- the search_path source -----------------------------------------------------------------
@pytest.fixture(params=MODES)
def search_path_proxy(request, start_proxy, launcher):
    config = txn_config(launcher, sources=["options", "user_suffix", "session", "search_path"],
                        pool_size=4, pool_mode=request.param)
    # Apartment's persistent schemas / django-tenants' shared apps live in public: the operator
    # declares it shared, so "<tenant schema>, public" is applied as written.
    config["guard"] = {"shared_schemas": ["public"]}
    return start_proxy(config)


class ApartmentStyleApp:
    """What Rails Apartment / django-tenants do: one connection, tenants switched with a plain
    SET search_path, unqualified table names, no knowledge of shards or of shardgate."""

    SWITCH_FORMS = [
        'SET search_path TO {schema}',                  # plain
        'SET search_path TO "{schema}", "public"',       # Apartment (quoted, persistent schemas)
        "SET search_path = {schema}, public",           # django-tenants
        "SET SCHEMA '{schema}'",                        # SQL-standard form
    ]

    def __init__(self, conn):
        self.conn = conn

    def switch(self, tenant: str, form: int = 0) -> None:
        self.conn.execute(self.SWITCH_FORMS[form].format(schema=f"tenant_{tenant}"))

    def list_items(self) -> tuple[list[str], int]:
        rows = self.conn.execute("SELECT body, inet_server_port() FROM items ORDER BY id").fetchall()
        return [b for b, _ in rows], (rows[0][1] if rows else None)


def test_apartment_style_app_switches_tenants_by_search_path(search_path_proxy, shards):
    with search_path_proxy.connect() as conn:
        app = ApartmentStyleApp(conn)
        for round_ in range(3):
            for i, tenant in enumerate(ALL_TENANTS):
                form = (i + round_) % len(ApartmentStyleApp.SWITCH_FORMS)
                app.switch(tenant, form)
                rows, port = app.list_items()
                assert rows[:3] == expect_rows(tenant), (tenant, ApartmentStyleApp.SWITCH_FORMS[form], rows)
                assert all(r.startswith(f"{tenant} ") for r in rows), rows   # no public leak
                assert port == shards[TENANT_SHARDS[tenant]].port, (tenant, port)
        assert conn.execute("SHOW shardgate.tenant").fetchone() == (ALL_TENANTS[-1],)


def test_search_path_to_non_tenant_schema_is_refused(search_path_proxy, shards):
    with search_path_proxy.connect() as conn:
        app = ApartmentStyleApp(conn)
        app.switch("globex")
        for sql in ("SET search_path TO some_other_schema",
                    "SET search_path TO public, tenant_acme",     # first schema is what counts
                    "SET search_path TO tenant_globex, tenant_acme",
                    "SET search_path TO tenant_acme, some_other_schema"):  # never dropped silently
            with pytest.raises(psycopg.Error) as err:
                conn.execute(sql)
            assert err.value.sqlstate == "42501", (sql, err.value)
        rows, port = app.list_items()                           # still globex, usable
        assert rows[:3] == expect_rows("globex") and port == shards["s2"].port
        assert conn.execute("SHOW search_path").fetchone() == ("tenant_globex",)


def test_search_path_with_shared_schema_is_applied_as_written(search_path_proxy, shards):
    """The tenant's schema plus a declared shared schema: kept as written, on every server
    connection the client gets (transaction mode re-applies it), until RESET ALL."""
    with search_path_proxy.connect() as conn:
        conn.execute("SET search_path = tenant_globex, public")
        for _ in range(6):
            assert conn.execute("SHOW search_path").fetchone() == ("tenant_globex, public",)
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 3
        conn.execute("SET search_path TO pg_catalog, tenant_globex, public")
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, tenant_globex, public",)
        # A shared schema before the tenant's: unqualified CREATEs would land in it. Refused.
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SET search_path TO public, tenant_globex")
        assert err.value.sqlstate == "42501"
        conn.execute("RESET ALL")
        assert conn.execute("SHOW search_path").fetchone() == ("tenant_globex",)


def test_search_path_at_startup_names_the_tenant(search_path_proxy, shards):
    with psycopg.connect(search_path_proxy.conninfo(options="-c search_path=tenant_globex"),
                         autocommit=True) as conn:
        rows, port = ApartmentStyleApp(conn).list_items()
        assert rows[:3] == expect_rows("globex") and port == shards["s2"].port


def test_search_path_is_refused_when_source_not_enabled(switch_proxy, shards):
    """Without `search_path` in tenant.sources, SET search_path is the guard's 42501."""
    with switch_proxy.connect(tenant="acme") as conn:
        with pytest.raises(psycopg.Error) as err:
            conn.execute("SET search_path TO tenant_globex")
        assert err.value.sqlstate == "42501"
        assert_is(conn, shards, "acme")
