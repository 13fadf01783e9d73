"""Real ORMs and migration tools through shardgate, in session and in transaction pool mode.

Each ORM runs as an application would: user `app`, its tenant in libpq's `options`
(`-c shardgate.tenant=<tenant>`), its own migrations (tables with FK, unique and indexes, native
enum types, a PL/pgSQL trigger function with its trigger), CRUD, transactions that commit and
transactions that roll back. Every ORM x pool mode gets a tenant of its own, so the checks on
the shard see only that run's objects.

- Django 3.2 + psycopg2 (orms/django): migrate, shop_crud, migrate shop zero, migrate.
- SQLAlchemy 1.4 + Alembic (orms/alembic): revision --autogenerate, a hand-written trigger
  revision, upgrade head, ORM session work, downgrade base, upgrade head.
- knex (node/orm_knex.js, orms/knex/migrations): migrate.latest, CRUD and transactions,
  a knex instance with `searchPath: [tenant schema]` (knex sets search_path on each pool
  connection, SPEC's accepted form), migrate.rollback, migrate.latest.
- Sequelize 6 (node/orm_sequelize.js): models with ENUMs and `schema` = the tenant's schema,
  sync, findOrCreate (a pg_temp PL/pgSQL function), managed transactions, queryInterface
  createTable/addColumn/addIndex and a trigger function.

After each run, straight on the shards (superuser): the objects (schemas, relations, functions,
types, triggers, constraints, extensions) of every schema but pg_catalog, information_schema,
pg_toast and temporary schemas, compared with a snapshot from before the run: nothing may
appear, change or vanish outside the tenant's schema, and the objects the migrations create
must be in the tenant's schema, with the rows the ORM committed (and none it rolled back).

A failure names the ORM's step, the SQLSTATE and message it got, and the statements it sent
last (each tool logs its SQL to stderr).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg import sql as pgsql

import pgshards
from node_deps import NODE_DIR, npm_install
from proxyctl import APP_PASSWORD, TENANT_SHARDS, directory_for

ORMS_DIR = Path(__file__).resolve().parent / "orms"
PY = sys.executable
MODES = ("session", "transaction")
ORM_SHARDS = {"django": "s1", "alembic": "s2", "knex": "s1", "sequelize": "s2"}


def tenant_of(orm: str, mode: str) -> str:
    return f"orm_{orm}_{mode[:4]}"


ORM_TENANTS = {tenant_of(orm, mode): shard for orm, shard in ORM_SHARDS.items() for mode in MODES}


@pytest.fixture(scope="module")
def orm_proxy(launcher, shards):
    """One proxy with a session tier and a transaction tier; each ORM tenant is in the tier of
    its mode. Schemas are provisioned on the shards like the harness's tenants."""
    for tenant, shard in ORM_TENANTS.items():
        with shards[shard].connect() as conn:
            conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                pgsql.Identifier(pgshards.tenant_schema(tenant))))
        pgshards.provision_tenant(shards[shard], tenant)
    config = launcher.config(tiers={
        "session": {"pool": "shared", "pool_size": 20, "pool_mode": "session"},
        "transaction": {"pool": "shared", "pool_size": 3, "pool_mode": "transaction",
                        "pool_timeout": "10s"},
    })
    entries = directory_for(TENANT_SHARDS, tier="session")["tenants"]
    for tenant, shard in ORM_TENANTS.items():
        mode = "session" if tenant.endswith("_sess") else "transaction"
        entries.update(directory_for({tenant: shard}, tier=mode)["tenants"])
    proxy = launcher.start(config, {"tenants": entries})
    yield proxy
    failure = launcher.stop(proxy)
    if failure:
        pytest.fail(failure, pytrace=False)


# --- objects on the shard -----------------------------------------------------------------------
SNAPSHOT_SQL = """
WITH ns AS (
    SELECT oid, nspname::text AS nspname FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%')
SELECT 'schema'::text, nspname, nspname, ''::text FROM ns
UNION ALL
SELECT 'relation:' || c.relkind::text, ns.nspname, c.relname::text, ''
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
UNION ALL
SELECT 'function', ns.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(coalesce(p.prosrc, '')) FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT 'type:' || t.typtype::text, ns.nspname, t.typname::text, ''
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
UNION ALL
SELECT 'trigger', ns.nspname, c.relname || '.' || tg.tgname, '' FROM pg_trigger tg
  JOIN pg_class c ON c.oid = tg.tgrelid JOIN ns ON ns.oid = c.relnamespace WHERE NOT tg.tgisinternal
UNION ALL
SELECT 'constraint', ns.nspname, co.conname::text, pg_get_constraintdef(co.oid)
  FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
UNION ALL
SELECT 'extension', n.nspname::text, e.extname::text, e.extversion
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
UNION ALL
SELECT 'event trigger', '', evtname::text, '' FROM pg_event_trigger
"""


def snapshot(shard) -> set[tuple]:
    return set(shard.sql(SNAPSHOT_SQL))


def snapshots(shards) -> dict:
    return {name: snapshot(shard) for name, shard in shards.items()}


def assert_nothing_outside(shards, before: dict, schema: str, what: str) -> None:
    """Objects outside `schema` are exactly as in `before`, on every shard."""
    for name, shard in shards.items():
        after = snapshot(shard)
        outside = lambda objects: {o for o in objects if o[1] != schema and o[2] != schema}  # noqa: E731
        appeared = sorted(outside(after) - outside(before[name]))
        vanished = sorted(outside(before[name]) - outside(after))
        assert not appeared and not vanished, (
            f"{what}: objects outside {schema} changed on shard {name}:\n"
            f"  appeared: {appeared}\n  vanished: {vanished}")


def tenant_objects(shard, schema: str) -> set[tuple[str, str]]:
    """(kind, name) of the objects in `schema`; relations by relkind name, types by type kind."""
    kinds = {"relation:r": "table", "relation:S": "sequence", "relation:i": "index",
             "relation:v": "view", "type:e": "enum", "function": "function", "trigger": "trigger"}
    found = set()
    for kind, nsp, name, _ in snapshot(shard):
        if nsp == schema and kind in kinds:
            found.add((kinds[kind], name.split("(")[0] if kind == "function" else name))
    return found


def assert_objects(shard, schema: str, present: set, absent: set = frozenset(), what: str = "") -> None:
    found = tenant_objects(shard, schema)
    missing = sorted(present - found)
    still = sorted(absent & found)
    assert not missing and not still, (f"{what}: in {schema}: missing {missing}, should be gone "
                                       f"{still}; the schema holds {sorted(found)}")


def rows(shard, schema: str, query: str) -> list[tuple]:
    """`query` with {s} = the schema, straight on the shard."""
    return shard.sql(pgsql.SQL(query).format(s=pgsql.Identifier(schema)))


# --- running the tools -------------------------------------------------------------------------
def orm_env(proxy, tenant: str) -> dict:
    env = dict(os.environ, ORM_HOST=proxy.host, ORM_PORT=str(proxy.port), ORM_USER="app",
               ORM_PASSWORD=APP_PASSWORD, ORM_DBNAME="app",
               ORM_OPTIONS=f"-c shardgate.tenant={tenant}",
               ORM_SCHEMA=pgshards.tenant_schema(tenant), PYTHONDONTWRITEBYTECODE="1")
    for key in ("PGOPTIONS", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        env.pop(key, None)
    return env


def sql_tail(stderr: str, lines: int = 6) -> str:
    """The last statements a tool logged (lines starting 'SQL ' or SQLAlchemy's INFO lines)."""
    picked = [line for line in stderr.splitlines()
              if line.startswith("SQL ") or "[sqlalchemy.engine" in line]
    return "\n".join(line[:1500] for line in picked[-lines:])


def run(cmd: list[str], cwd: Path, env: dict, what: str, timeout: float = 90) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        errors = [line for line in out.stderr.splitlines()
                  if "Error" in line or "error" in line or "ERROR" in line][-6:]
        pytest.fail(f"{what} failed (exit {out.returncode}): {' '.join(cmd[1:])}\n"
                    f"--- errors:\n" + "\n".join(errors) +
                    f"\n--- last statements sent:\n{sql_tail(out.stderr)}\n"
                    f"--- stdout:\n{out.stdout[-3000:]}\n--- stderr tail:\n{out.stderr[-4000:]}",
                    pytrace=False)
    return out.stdout


def run_node(script: str, args: list[str], env: dict, what: str) -> dict:
    out = subprocess.run(["node", script, *args], cwd=NODE_DIR, env=env, capture_output=True,
                         text=True, timeout=90, stdin=subprocess.DEVNULL)
    lines = out.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"{what}: {script} {args} printed no report (exit {out.returncode}):\n"
                    f"{out.stdout[-3000:]}\n{out.stderr[-4000:]}", pytrace=False)
    if not report["ok"] or out.returncode != 0:
        pytest.fail(f"{what}: step {report.get('step')} failed: "
                    f"[{report.get('code')}] {report.get('message')}\n"
                    f"--- statement: {report.get('sql')}\n"
                    f"--- last statements sent:\n{sql_tail(out.stderr)}\n"
                    f"--- stack:\n{report.get('stack')}", pytrace=False)
    return report


class OrmRun:
    """One ORM x pool mode: its tenant, shard and schema, and the snapshot of the shards from
    before the run."""

    def __init__(self, shards):
        self.shards = shards
        self.schema = None

    def start(self, orm: str, mode: str):
        tenant = tenant_of(orm, mode)
        self.schema, self.what = pgshards.tenant_schema(tenant), f"{orm}/{mode}"
        self.before = snapshots(self.shards)
        return tenant, self.shards[ORM_SHARDS[orm]], self.schema

    def check_outside(self) -> None:
        assert_nothing_outside(self.shards, self.before, self.schema, self.what)


@pytest.fixture
def orm_run(request, shards):
    """When the ORM run failed half-way (a refused or failing statement), the objects outside
    the tenant's schema are still checked at teardown: a failure must not leak either."""
    run = OrmRun(shards)
    yield run
    report = getattr(request.node, "rep_call", None)
    if run.schema is not None and report is not None and report.failed:
        run.check_outside()


# --- Django ------------------------------------------------------------------------------------
DJANGO_OBJECTS = {("table", "shop_customer"), ("table", "shop_order"), ("table", "django_migrations"),
                  ("table", "django_content_type"), ("index", "shop_order_number_idx"),
                  ("index", "shop_order_customer_number_uniq"), ("sequence", "shop_order_id_seq"),
                  ("function", "shop_touch_updated_at"), ("trigger", "shop_order.shop_order_touch")}
DJANGO_APP_OBJECTS = {o for o in DJANGO_OBJECTS if "shop" in o[1]}


@pytest.mark.parametrize("mode", MODES)
def test_django_migrate_crud_and_migrate_zero(orm_proxy, orm_run, mode):
    tenant, shard, schema = orm_run.start("django", mode)
    env, cwd = orm_env(orm_proxy, tenant), ORMS_DIR / "django"
    manage = [PY, "manage.py"]
    what = f"django/{mode}"

    run(manage + ["migrate", "--noinput"], cwd, env, f"{what}: migrate")
    assert_objects(shard, schema, DJANGO_OBJECTS, what=f"{what} after migrate")
    orm_run.check_outside()

    out = run(manage + ["shop_crud"], cwd, env, f"{what}: shop_crud")
    assert f"current_schema {schema}" in out, out
    assert rows(shard, schema, "SELECT email FROM {s}.shop_customer ORDER BY email") == \
        [("ada@example.com",), ("carol@example.com",)]
    assert rows(shard, schema, "SELECT number, updated_at IS NOT NULL FROM {s}.shop_order "
                               "ORDER BY number") == [("A-1", True), ("C-1", True)]

    run(manage + ["migrate", "--noinput", "shop", "zero"], cwd, env, f"{what}: migrate shop zero")
    assert_objects(shard, schema, {("table", "django_migrations")}, absent=DJANGO_APP_OBJECTS,
                   what=f"{what} after migrate shop zero")
    run(manage + ["migrate", "--noinput", "shop"], cwd, env, f"{what}: migrate shop (again)")
    assert_objects(shard, schema, DJANGO_OBJECTS, what=f"{what} after migrating back up")
    assert rows(shard, schema, "SELECT app, name FROM {s}.django_migrations WHERE app = 'shop' "
                               "ORDER BY name") == [("shop", "0001_initial"), ("shop", "0002_touch_trigger")]
    orm_run.check_outside()


# --- SQLAlchemy + Alembic ----------------------------------------------------------------------
ALEMBIC_OBJECTS = {("table", "customers"), ("table", "orders"), ("table", "alembic_version"),
                   ("enum", "customer_plan"), ("index", "ix_customers_name"),
                   ("index", "ix_orders_customer_id"), ("index", "orders_customer_number_key"),
                   ("index", "customers_email_key"), ("function", "orders_touch_updated_at"),
                   ("trigger", "orders.orders_touch")}
ALEMBIC_APP_OBJECTS = ALEMBIC_OBJECTS - {("table", "alembic_version")}


@pytest.mark.parametrize("mode", MODES)
def test_alembic_autogenerate_upgrade_downgrade_and_sqlalchemy_session(orm_proxy, orm_run, mode,
                                                                      tmp_path):
    tenant, shard, schema = orm_run.start("alembic", mode)
    env, what = orm_env(orm_proxy, tenant), f"alembic/{mode}"
    project = tmp_path / "alembic"
    shutil.copytree(ORMS_DIR / "alembic", project)
    (project / "versions").mkdir()
    alembic = [PY, "-m", "alembic", "-c", "alembic.ini"]

    run(alembic + ["revision", "--autogenerate", "--rev-id", "0001_models", "-m", "models"],
        project, env, f"{what}: revision --autogenerate")
    generated = (project / "versions" / "0001_models_models.py").read_text()
    for expected in ("op.create_table('customers'", "op.create_table('orders'",
                     "sa.Enum('free', 'pro', name='customer_plan')", "ix_customers_name",
                     "op.drop_table('orders')"):
        assert expected in generated, f"autogenerate did not write {expected}:\n{generated}"
    assert "items" not in generated, generated
    # Alembic's autogenerate leaves a native enum behind on downgrade; as its docs advise, the
    # generated revision is reviewed and gets the DROP TYPE by hand.
    drop_customers = "    op.drop_table('customers')\n"
    assert drop_customers in generated, generated
    (project / "versions" / "0001_models_models.py").write_text(generated.replace(
        drop_customers, drop_customers + "    sa.Enum(name='customer_plan').drop(op.get_bind())\n"))
    shutil.copy(project / "touch_trigger_revision.py", project / "versions" / "0002_touch_trigger.py")

    run(alembic + ["upgrade", "head"], project, env, f"{what}: upgrade head")
    assert_objects(shard, schema, ALEMBIC_OBJECTS, what=f"{what} after upgrade head")

    out = run([PY, "crud.py"], project, env, f"{what}: SQLAlchemy session work")
    assert f"current_schema {schema}" in out, out[-2000:]
    assert rows(shard, schema, "SELECT c.email, c.plan::text, o.number, o.updated_at IS NOT NULL "
                               "FROM {s}.customers c LEFT JOIN {s}.orders o ON o.customer_id = c.id "
                               "ORDER BY c.email") == [
        ("ada@example.com", "pro", "A-1", True), ("carol@example.com", "free", "C-1", True),
        ("dave@example.com", "free", None, False)]

    run(alembic + ["downgrade", "base"], project, env, f"{what}: downgrade base")
    assert_objects(shard, schema, {("table", "alembic_version")}, absent=ALEMBIC_APP_OBJECTS,
                   what=f"{what} after downgrade base")
    run(alembic + ["upgrade", "head"], project, env, f"{what}: upgrade head (again)")
    assert_objects(shard, schema, ALEMBIC_OBJECTS, what=f"{what} after upgrading again")
    assert rows(shard, schema, "SELECT version_num FROM {s}.alembic_version") == [("0002_touch_trigger",)]
    orm_run.check_outside()


# --- knex --------------------------------------------------------------------------------------
KNEX_OBJECTS = {("table", "customers"), ("table", "orders"), ("table", "knex_migrations"),
                ("table", "knex_migrations_lock"), ("enum", "customer_plan"),
                ("index", "customers_email_unique"), ("index", "customers_name_index"),
                ("index", "orders_customer_id_number_unique"), ("index", "orders_customer_id_index"),
                ("function", "orders_touch_updated_at"), ("trigger", "orders.orders_touch")}
KNEX_APP_OBJECTS = {o for o in KNEX_OBJECTS if "knex" not in o[1]}


@pytest.mark.parametrize("mode", MODES)
def test_knex_migrations_native_enum_trigger_and_transactions(orm_proxy, orm_run, mode):
    npm_install("pg", "knex")
    tenant, shard, schema = orm_run.start("knex", mode)
    env, what = orm_env(orm_proxy, tenant), f"knex/{mode}"
    migrations = str(ORMS_DIR / "knex" / "migrations")

    run_node("orm_knex.js", [migrations, "latest", "crud", "searchpath"], env, what)
    assert_objects(shard, schema, KNEX_OBJECTS, what=f"{what} after migrate.latest")
    assert rows(shard, schema, "SELECT c.email, c.plan::text, o.number, o.updated_at IS NOT NULL "
                               "FROM {s}.customers c LEFT JOIN {s}.orders o ON o.customer_id = c.id "
                               "ORDER BY c.email") == [
        ("ada@example.com", "pro", "A-1", True), ("carol@example.com", "free", "C-1", True),
        ("dave@example.com", "free", None, False)]

    run_node("orm_knex.js", [migrations, "rollback"], env, what)
    assert_objects(shard, schema, {("table", "knex_migrations")}, absent=KNEX_APP_OBJECTS,
                   what=f"{what} after migrate.rollback")
    run_node("orm_knex.js", [migrations, "latest"], env, what)
    assert_objects(shard, schema, KNEX_OBJECTS, what=f"{what} after migrate.latest again")
    orm_run.check_outside()


# --- Sequelize ---------------------------------------------------------------------------------
SEQUELIZE_OBJECTS = {("table", "customers"), ("table", "orders"), ("table", "audit_log"),
                     ("enum", "enum_customers_plan"), ("enum", "enum_orders_status"),
                     ("index", "customers_email_key"), ("index", "customers_name"),
                     ("index", "orders__customer_id_number"), ("index", "audit_log_customer_email"),
                     ("function", "customers_audit"), ("trigger", "customers.customers_audit")}


@pytest.mark.parametrize("mode", MODES)
def test_sequelize_schema_models_find_or_create_transactions_and_query_interface(
        orm_proxy, orm_run, mode):
    npm_install("pg", "sequelize")
    tenant, shard, schema = orm_run.start("sequelize", mode)
    env, what = orm_env(orm_proxy, tenant), f"sequelize/{mode}"

    run_node("orm_sequelize.js", ["sync", "crud", "migrate"], env, what)
    assert_objects(shard, schema, SEQUELIZE_OBJECTS, what=what)
    assert rows(shard, schema, "SELECT email, plan::text FROM {s}.customers ORDER BY email") == [
        ("ada@example.com", "pro"), ("carol@example.com", "free"), ("dave@example.com", "free"),
        ("gus@example.com", "free"), ("zoe@example.com", "free")]
    assert rows(shard, schema, 'SELECT o.number, o.status::text, c.email FROM {s}.orders o '
                               'JOIN {s}.customers c ON c.id = o."CustomerId" ORDER BY o.number') == [
        ("A-1", "paid", "ada@example.com"), ("C-1", "open", "carol@example.com")]
    orm_run.check_outside()
