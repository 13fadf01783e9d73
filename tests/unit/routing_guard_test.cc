// routing/guard: what one tenant's statements may do on a pool shared with other tenants.
// Tenant "acme" (schema tenant_acme) attacks tenant "globex" (schema tenant_globex).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/guard/guard.h"
#include "routing/guard/statement.h"
#include "routing/guard/statement_cache.h"

namespace shardgate::routing {
namespace {

const std::vector<std::string> kShared = {"reference"};

GuardPolicy acme(bool allow_dynamic_sql = false) {
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  p.shared_schemas = &kShared;
  p.allow_dynamic_sql = allow_dynamic_sql;
  return p;
}

GuardVerdict check(std::string_view sql, bool allow_dynamic_sql = false) {
  return judge(inspect_statement(sql), acme(allow_dynamic_sql));
}

struct Refusal {
  std::string sql;
  std::string says;  // a part of the message
};

void expect_refused(const std::vector<Refusal>& cases, bool allow_dynamic_sql = false) {
  for (const auto& c : cases) {
    GuardVerdict v = check(c.sql, allow_dynamic_sql);
    EXPECT_FALSE(v.allowed) << c.sql;
    EXPECT_EQ(v.sqlstate, "42501") << c.sql;
    EXPECT_NE(v.message.find("shardgate refused the statement: "), std::string::npos) << c.sql;
    EXPECT_NE(v.message.find(c.says), std::string::npos) << c.sql << "\n  message: " << v.message;
    EXPECT_NE(v.message.find("\"acme\""), std::string::npos) << c.sql << ": " << v.message;
    EXPECT_FALSE(v.hint.empty()) << c.sql;
  }
}

void expect_allowed(const std::vector<std::string>& cases, bool allow_dynamic_sql = false) {
  for (const auto& sql : cases) {
    StatementInfo info = inspect_statement(sql);
    GuardVerdict v = judge(info, acme(allow_dynamic_sql));
    EXPECT_TRUE(v.allowed) << sql << "\n  message: " << v.message;
    EXPECT_TRUE(v.sqlstate.empty()) << sql;
  }
}

TEST(RoutingGuard, RefusesOperatorsAndAggregatesOverFunctionsJudgedByTheirArguments) {
  // Each use would run the function with arguments the guard never reads: query text
  // (ts_stat), other sessions' statements, another tenant's channel or sequence, a setting.
  expect_refused({
      {"CREATE OPERATOR @@@ (RIGHTARG = text, FUNCTION = ts_stat)", "over ts_stat()"},
      {"CREATE OPERATOR %%% (RIGHTARG = integer, FUNCTION = pg_stat_get_activity)",
       "over pg_stat_get_activity()"},
      {"CREATE OPERATOR ### (LEFTARG = text, RIGHTARG = text, PROCEDURE = pg_catalog.pg_notify)",
       "over pg_notify()"},
      {"CREATE OPERATOR ~~+ (RIGHTARG = regclass, FUNCTION = nextval)", "over nextval()"},
      {"CREATE AGGREGATE sneak(text) (SFUNC = set_config, STYPE = text)", "over set_config()"},
  });
  expect_allowed({"CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
                  "CREATE AGGREGATE total(int) (SFUNC = int4pl, STYPE = int)"});
}

TEST(RoutingGuard, RefusesSearchPathChanges) {
  expect_refused({
      {"SET search_path TO tenant_globex", "changes search_path"},
      {"SET search_path = tenant_globex, public", "changes search_path"},
      {"set SEARCH_PATH to TENANT_GLOBEX", "changes search_path"},
      {"SET \"Search_Path\" TO tenant_globex", "changes search_path"},
      {"SET SESSION search_path TO tenant_globex", "changes search_path"},
      {"SET LOCAL search_path TO tenant_globex", "changes search_path"},
      {"SET SCHEMA 'tenant_globex'", "changes search_path"},
      {"SET search_path TO DEFAULT", "changes search_path"},
      {"RESET search_path", "changes search_path"},
      {"BEGIN; SET LOCAL search_path TO tenant_globex; SELECT * FROM items; COMMIT",
       "changes search_path"},
      {"SELECT 1; SET search_path TO tenant_globex", "changes search_path"},
      {"SELECT set_config('search_path', 'tenant_globex', false)", "changes search_path"},
      {"SELECT set_config('search_path', 'tenant_globex', true)", "changes search_path"},
      {"SELECT pg_catalog.set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"select SET_CONFIG('SEARCH_PATH', 'tenant_globex', false)", "changes search_path"},
      {"SELECT set_config('search_path'::text, 'tenant_globex', false)", "changes search_path"},
      {"SELECT set_config(CAST('search_path' AS text), 'x', false)", "changes search_path"},
      {"SELECT set_config(setting_name => 'search_path', new_value => 'tenant_globex', "
       "is_local => false)",
       "changes search_path"},
      {"SELECT set_config(new_value => 'tenant_globex', setting_name => 'search_path', "
       "is_local => false)",
       "changes search_path"},
      {"SELECT * FROM set_config('search_path', 'tenant_globex', false)", "changes search_path"},
      {"SELECT * FROM items WHERE set_config('search_path', 'tenant_globex', false) IS NOT NULL",
       "changes search_path"},
      {"SELECT (SELECT set_config('search_path', 'tenant_globex', false))", "changes search_path"},
      {"SELECT length(upper(set_config('search_path', 'tenant_globex', false)))",
       "changes search_path"},
      {"WITH c AS (SELECT set_config('search_path', 'tenant_globex', false)) SELECT * FROM c",
       "changes search_path"},
      {"WITH c AS MATERIALIZED (SELECT 1) SELECT * FROM c, LATERAL (SELECT "
       "set_config('search_path', 'tenant_globex', false)) x",
       "changes search_path"},
      {"SELECT CASE WHEN true THEN set_config('search_path', 'tenant_globex', false) END",
       "changes search_path"},
      {"SELECT coalesce(NULL, set_config('search_path', 'tenant_globex', false))",
       "changes search_path"},
      {"SELECT array_agg(set_config('search_path', 'tenant_globex', false)) OVER ()",
       "changes search_path"},
      {"INSERT INTO items (body) SELECT set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"INSERT INTO items (body) VALUES (set_config('search_path', 'tenant_globex', false))",
       "changes search_path"},
      {"UPDATE items SET body = set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"DELETE FROM items WHERE body = set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"PREPARE p AS SELECT set_config('search_path', $1, false)", "changes search_path"},
      {"EXPLAIN ANALYZE SELECT set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"CREATE VIEW v AS SELECT set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"DECLARE c CURSOR FOR SELECT set_config('search_path', 'tenant_globex', false)",
       "changes search_path"},
      {"COPY (SELECT set_config('search_path', 'tenant_globex', false)) TO STDOUT",
       "changes search_path"},
      {"ALTER FUNCTION f() SET search_path = tenant_globex", "changes search_path"},
  });
}

TEST(RoutingGuard, RefusesRoleAndSessionAuthorizationChanges) {
  expect_refused({
      {"SET ROLE tenant_globex", "changes role"},
      {"SET LOCAL ROLE tenant_globex", "changes role"},
      {"SET SESSION ROLE tenant_globex", "changes role"},
      {"SET ROLE NONE", "changes role"},
      {"RESET ROLE", "changes role"},
      {"SELECT set_config('role', 'tenant_globex', false)", "changes role"},
      {"SET SESSION AUTHORIZATION tenant_globex", "changes session_authorization"},
      {"SET SESSION AUTHORIZATION DEFAULT", "changes session_authorization"},
      {"RESET SESSION AUTHORIZATION", "changes session_authorization"},
      {"SELECT set_config('session_authorization', 'tenant_globex', false)",
       "changes session_authorization"},
  });
}

TEST(RoutingGuard, RefusesShardgateSettings) {
  expect_refused({
      // Session commands are answered by the proxy; if one reaches the guard it is refused.
      {"SET shardgate.tenant = 'globex'", "changes shardgate.tenant"},
      {"SET LOCAL shardgate.tenant = 'globex'", "changes shardgate.tenant"},
      {"RESET shardgate.tenant", "changes shardgate.tenant"},
      // Not the whole text: never a session command.
      {"SET shardgate.tenant = 'globex'; SELECT * FROM items", "changes shardgate.tenant"},
      {"BEGIN; SET shardgate.tenant = 'globex'", "changes shardgate.tenant"},
      {"SET \"ShardGate.Tenant\" TO globex; SELECT 1", "changes shardgate.tenant"},
      {"SELECT set_config('shardgate.tenant', 'globex', false)", "changes shardgate.tenant"},
      {"SELECT set_config('SHARDGATE.TENANT', 'globex', true)", "changes shardgate.tenant"},
      {"SET shardgate.other = 'x'", "changes shardgate.other"},
  });
}

TEST(RoutingGuard, RefusesSettingsWithUnknownNames) {
  expect_refused({
      {"SELECT set_config(name, 'tenant_globex', false) FROM (VALUES ('search_path')) v(name)",
       "whose name is not a constant"},
      {"SELECT set_config($1, $2, false)", "whose name is not a constant"},
      {"SELECT set_config('search' || '_path', 'tenant_globex', false)",
       "whose name is not a constant"},
      {"SELECT set_config(lower('SEARCH_PATH'), 'tenant_globex', false)",
       "whose name is not a constant"},
      {"SELECT set_config(NULL, 'x', false)", "whose name is not a constant"},
      {"UPDATE pg_settings SET setting = 'tenant_globex' WHERE name = 'search_path'",
       "UPDATE pg_settings"},
      {"UPDATE pg_catalog.pg_settings SET setting = 'x' WHERE name = 'role'", "UPDATE pg_settings"},
      {"WITH u AS (UPDATE pg_settings SET setting = 'x' WHERE name = 'search_path' RETURNING 1) "
       "SELECT * FROM u",
       "UPDATE pg_settings"},
  });
}

TEST(RoutingGuard, RefusesSettingsThatWouldBlindTheGuard) {
  expect_refused({
      {"SET standard_conforming_strings = off", "standard_conforming_strings"},
      {"SET standard_conforming_strings TO false", "standard_conforming_strings"},
      {"SELECT set_config('standard_conforming_strings', 'off', false)",
       "standard_conforming_strings"},
      {"SELECT set_config('standard_conforming_strings', $1, false)",
       "standard_conforming_strings"},
      {"SET client_encoding = 'SJIS'", "client_encoding"},
      {"SET client_encoding TO 'Shift_JIS'", "client_encoding"},
      {"SET NAMES 'big5'", "client_encoding"},
      {"SELECT set_config('client_encoding', 'GBK', false)", "client_encoding"},
      {"SET client_encoding = 'WIN936'", "client_encoding"},
  });
  expect_allowed({
      "SET standard_conforming_strings = on",
      "SET standard_conforming_strings TO true",
      "RESET standard_conforming_strings",
      "SET client_encoding = 'UTF8'",
      "SET NAMES 'LATIN1'",
      "SET client_encoding TO DEFAULT",
      "SELECT set_config('client_encoding', 'EUC_JP', false)",
  });
}

TEST(RoutingGuard, RefusesPersistentSettings) {
  expect_refused({
      {"ALTER ROLE app SET work_mem = '1GB'", "ALTER ROLE ... SET changes settings for other"},
      {"ALTER USER app SET statement_timeout = 0", "ALTER ROLE ... SET"},
      {"ALTER ROLE app RESET ALL", "ALTER ROLE ... SET"},
      {"ALTER ROLE ALL IN DATABASE app SET work_mem = '1GB'", "ALTER ROLE ... SET"},
      {"ALTER ROLE app SET search_path = tenant_globex", "search_path"},
      {"ALTER DATABASE app SET work_mem = '1GB'", "ALTER DATABASE ... SET"},
      {"ALTER DATABASE app RESET ALL", "ALTER DATABASE ... SET"},
      {"ALTER DATABASE app SET search_path TO tenant_globex", "search_path"},
      {"ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM"},
      {"ALTER SYSTEM RESET ALL", "ALTER SYSTEM"},
      {"SELECT 1; ALTER SYSTEM SET search_path = 'tenant_globex'", "search_path"},
  });
}

TEST(RoutingGuard, RefusesDynamicSqlUnlessTheTierAllowsIt) {
  // Harmless bodies in sql and plpgsql are read and allowed (routing_function_body_test.cc);
  // what runs text the guard cannot read stays refused.
  const std::string execute = "EXECUTE of a computed string in PL/pgSQL";
  const std::vector<Refusal> cases = {
      {"DO $$ BEGIN EXECUTE 'SELECT * FROM tenant_globex.items'; END $$", execute},
      {"do $x$ begin execute format('select %s', 1); end $x$", execute},
      {"CREATE OR REPLACE FUNCTION f() RETURNS setof text LANGUAGE plpgsql AS $$ BEGIN RETURN "
       "QUERY EXECUTE 'SELECT body FROM tenant_globex.items'; END $$",
       execute},
      {"CREATE OR REPLACE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$", execute},
      {"DO LANGUAGE plperl 'print 1'", "DO block in language plperl"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE plperl AS 'return 1'",
       "function in language plperl"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
       "SECURITY DEFINER function"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = '1MB' AS 'SELECT 1'",
       "SET clause on a function"},
      {"SELECT query_to_xml('SELECT * FROM tenant_globex.items', true, false, '')",
       "function query_to_xml"},
      {"SELECT pg_catalog.query_to_xml_and_xmlschema('SELECT 1', true, false, '')",
       "function query_to_xml_and_xmlschema"},
      {"SELECT query_to_xmlschema($1, true, false, '')", "function query_to_xmlschema"},
      {"SELECT table_to_xml('tenant_globex.items', true, false, '')", "function table_to_xml"},
      {"SELECT schema_to_xml('tenant_globex', true, false, '')", "function schema_to_xml"},
      {"SELECT database_to_xml(true, false, '')", "function database_to_xml"},
      {"SELECT cursor_to_xml('c', 10, false, false, '')", "function cursor_to_xml"},
      {"SELECT * FROM ts_stat('SELECT vec FROM tenant_globex.docs')", "function ts_stat"},
      {"SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM tenant_globex.aliases')",
       "function ts_rewrite"},
      {"SELECT * FROM dblink('dbname=app', 'SELECT body FROM tenant_globex.items') AS t(b text)",
       "function dblink"},
      {"SELECT dblink_exec('dbname=app', 'SET search_path TO tenant_globex')",
       "function dblink_exec"},
      {"SELECT dblink_connect('c', 'dbname=app')", "function dblink_connect"},
      {"SELECT public.dblink_send_query('c', 'SELECT 1')", "function dblink_send_query"},
      {"SELECT * FROM items WHERE body IN (SELECT x FROM dblink('', 'SELECT 1') AS d(x text))",
       "function dblink"},
  };
  expect_refused(cases);
  for (const auto& c : cases) {
    if (c.sql.find("public.") != std::string::npos) continue;  // public is not allowed
    GuardVerdict v = check(c.sql, /*allow_dynamic_sql=*/true);
    EXPECT_TRUE(v.allowed) << c.sql << "\n  message: " << v.message;
  }
  // Allowed dynamic SQL still may not name another tenant's schema outside the strings.
  expect_refused({{"CREATE FUNCTION tenant_globex.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                   "names schema \"tenant_globex\""},
                  {"CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = "
                   "tenant_globex AS 'SELECT 1'",
                   "changes search_path"},
                  {"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT count(*) "
                   "FROM tenant_globex.items; END",
                   "names schema \"tenant_globex\""}},
                 /*allow_dynamic_sql=*/true);
}

TEST(RoutingGuard, RefusesOtherSchemas) {
  const std::string says = "names schema \"tenant_globex\"";
  expect_refused({
      {"SELECT * FROM tenant_globex.items", says},
      {"SELECT * FROM \"tenant_globex\".items", says},
      {"SELECT * FROM \"tenant_globex\".\"items\"", says},
      {"SELECT * FROM TENANT_GLOBEX.ITEMS", says},
      {"SELECT * FROM app.tenant_globex.items", says},
      {"select body from tenant_globex.items where id = $1", says},
      {"INSERT INTO tenant_globex.items (body) VALUES ('x')", says},
      {"UPDATE tenant_globex.items SET body = 'x'", says},
      {"DELETE FROM tenant_globex.items", says},
      {"MERGE INTO tenant_globex.items t USING (VALUES (1)) v(id) ON t.id = v.id WHEN MATCHED "
       "THEN DELETE",
       says},
      {"INSERT INTO items SELECT * FROM tenant_globex.items", says},
      {"SELECT * FROM items i JOIN tenant_globex.items g ON g.id = i.id", says},
      {"SELECT * FROM items WHERE id IN (SELECT id FROM tenant_globex.items)", says},
      {"SELECT * FROM items WHERE EXISTS (SELECT 1 FROM tenant_globex.items)", says},
      {"SELECT (SELECT body FROM tenant_globex.items LIMIT 1)", says},
      {"SELECT * FROM items UNION ALL SELECT * FROM tenant_globex.items", says},
      {"WITH g AS (SELECT * FROM tenant_globex.items) SELECT * FROM g", says},
      {"WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r, tenant_globex.items "
       "WHERE n < 3) SELECT * FROM r",
       says},
      {"SELECT * FROM items, LATERAL (SELECT * FROM tenant_globex.items) x", says},
      {"SELECT * FROM items; SELECT * FROM tenant_globex.items", says},
      {"CREATE VIEW leak AS SELECT * FROM tenant_globex.items", says},
      {"CREATE MATERIALIZED VIEW leak AS SELECT * FROM tenant_globex.items", says},
      {"CREATE TABLE leak AS SELECT * FROM tenant_globex.items", says},
      {"SELECT * INTO leak FROM tenant_globex.items", says},
      {"CREATE TABLE tenant_globex.evil (x int)", says},
      {"CREATE TABLE t (LIKE tenant_globex.items)", says},
      {"CREATE TABLE t () INHERITS (tenant_globex.items)", says},
      {"CREATE TABLE t (id int REFERENCES tenant_globex.items (id))", says},
      {"ALTER TABLE tenant_globex.items ADD COLUMN x int", says},
      {"ALTER TABLE items SET SCHEMA tenant_globex", says},
      {"ALTER TABLE tenant_globex.items OWNER TO app", says},
      {"ALTER TABLE tenant_globex.items RENAME TO gone", says},
      {"DROP TABLE tenant_globex.items", says},
      {"DROP TABLE items, tenant_globex.items", says},
      {"DROP TRIGGER trg ON tenant_globex.items", says},
      {"DROP FUNCTION tenant_globex.f(int)", says},
      {"TRUNCATE tenant_globex.items", says},
      {"LOCK TABLE tenant_globex.items IN ACCESS EXCLUSIVE MODE", says},
      {"VACUUM tenant_globex.items", says},
      {"ANALYZE tenant_globex.items", says},
      {"CLUSTER tenant_globex.items USING items_pkey", says},
      {"REINDEX TABLE tenant_globex.items", says},
      {"REINDEX SCHEMA tenant_globex", says},
      {"REFRESH MATERIALIZED VIEW tenant_globex.mv", says},
      {"COPY tenant_globex.items TO STDOUT", says},
      {"COPY tenant_globex.items FROM STDIN", says},
      {"COPY (SELECT * FROM tenant_globex.items) TO STDOUT", says},
      {"SELECT tenant_globex.secret()", says},
      {"SELECT * FROM tenant_globex.secret_rows()", says},
      {"CALL tenant_globex.proc()", says},
      {"SELECT '1'::tenant_globex.money_t", says},
      {"SELECT CAST(body AS tenant_globex.t) FROM items", says},
      {"SELECT 1 OPERATOR(tenant_globex.+) 1", says},
      {"SELECT body COLLATE tenant_globex.c FROM items", says},
      {"SELECT nextval('tenant_globex.items_id_seq')", says},
      {"SELECT setval('\"tenant_globex\".items_id_seq', 1)", says},
      {"SELECT currval('TENANT_GLOBEX.items_id_seq')", says},
      {"SELECT 'tenant_globex.items'::regclass", says},
      {"SELECT pg_relation_size('tenant_globex.items'::regclass)", says},
      {"SELECT 'tenant_globex'::regnamespace", says},
      {"SELECT 'tenant_globex.f(int)'::regprocedure", says},
      {"PREPARE p AS SELECT * FROM tenant_globex.items", says},
      {"EXPLAIN SELECT * FROM tenant_globex.items", says},
      {"DECLARE c CURSOR FOR SELECT * FROM tenant_globex.items", says},
      {"CREATE RULE r AS ON INSERT TO items DO ALSO INSERT INTO tenant_globex.items VALUES "
       "(new.*)",
       says},
      {"CREATE TRIGGER t BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION "
       "tenant_globex.f()",
       says},
      {"CREATE POLICY p ON items USING (id IN (SELECT id FROM tenant_globex.items))", says},
      {"CREATE INDEX ON items (body tenant_globex.text_ops)", says},
      {"CREATE SEQUENCE s OWNED BY tenant_globex.items.id", says},
      {"COMMENT ON TABLE tenant_globex.items IS 'x'", says},
      {"GRANT SELECT ON tenant_globex.items TO app", says},
      {"GRANT SELECT ON ALL TABLES IN SCHEMA tenant_globex TO app", says},
      {"GRANT USAGE ON SCHEMA tenant_globex TO app", says},
      {"ALTER DEFAULT PRIVILEGES IN SCHEMA tenant_globex GRANT SELECT ON TABLES TO app", says},
      {"CREATE SCHEMA tenant_globex", says},
      {"DROP SCHEMA tenant_globex CASCADE", says},
      {"ALTER SCHEMA tenant_globex RENAME TO mine", says},
      {"ALTER SCHEMA tenant_acme RENAME TO tenant_globex", says},
      {"CREATE EXTENSION hstore SCHEMA tenant_globex", "CREATE EXTENSION changes an object"},
      {"SELECT * FROM public.items", "names schema \"public\""},
      {"SELECT * FROM pg_toast.pg_toast_16384", "names schema \"pg_toast\""},
      {"SELECT * FROM pg_temp_3.scratch", "names schema \"pg_temp_3\""},
      {"SELECT nextval('16390')", "sequence by OID 16390"},
  });
}

TEST(RoutingGuard, RefusalMessagesNameWhatAndWhy) {
  GuardVerdict v = check("SET search_path TO tenant_globex");
  EXPECT_EQ(v.message,
            "shardgate refused the statement: it changes search_path, which shardgate manages "
            "for tenant \"acme\"");
  v = check("SELECT * FROM tenant_globex.items");
  EXPECT_EQ(v.message,
            "shardgate refused the statement: it names schema \"tenant_globex\", outside the "
            "schemas tenant \"acme\" may use (\"tenant_acme\", pg_catalog, information_schema, "
            "pg_temp, \"reference\")");
  v = check("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$");
  EXPECT_EQ(v.message,
            "shardgate refused the statement: EXECUTE of a computed string in PL/pgSQL runs SQL "
            "the guard cannot inspect, and the tier of tenant \"acme\" does not allow dynamic "
            "SQL");
  EXPECT_NE(v.hint.find("guard.allow_dynamic_sql"), std::string::npos);
}

TEST(RoutingGuard, AllowsLegitimateSql) {
  expect_allowed({
      // pgbench (the built-in TPC-B-like script, select-only and its initialisation).
      "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
      "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
      "UPDATE pgbench_tellers SET tbalance = tbalance + -42 WHERE tid = 3",
      "UPDATE pgbench_branches SET bbalance = bbalance + 17 WHERE bid = 1",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, "
      "CURRENT_TIMESTAMP)",
      "BEGIN",
      "END",
      "drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
      "create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,"
      "filler char(22))",
      "create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) "
      "with (fillfactor=100)",
      "truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers",
      "copy pgbench_accounts from stdin with (freeze on)",
      "vacuum analyze pgbench_branches",
      "alter table pgbench_branches add primary key (bid)",
      "select count(*) from pgbench_branches",
      "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c "
      "join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) cross join lateral "
      "(select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) "
      "left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) left join "
      "pg_catalog.pg_inherits as i on (c.oid = i.inhparent) where c.relname = "
      "'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1",
      // DDL and DML in the tenant's own schema, qualified or not.
      "CREATE TABLE items2 (id bigserial PRIMARY KEY, body text NOT NULL DEFAULT '')",
      "CREATE TABLE tenant_acme.items2 (id bigserial PRIMARY KEY, body text)",
      "CREATE TABLE \"tenant_acme\".items3 (id int REFERENCES tenant_acme.items (id))",
      "ALTER TABLE tenant_acme.items ADD COLUMN tags text[]",
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_body ON tenant_acme.items (body)",
      "DROP TABLE IF EXISTS tenant_acme.tmp, scratch",
      "CREATE VIEW tenant_acme.v AS SELECT id, body FROM tenant_acme.items",
      "CREATE SEQUENCE tenant_acme.s",
      "CREATE TYPE mood AS ENUM ('happy', 'sad')",
      "CREATE TYPE tenant_acme.mood2 AS ENUM ('x')",
      "CREATE TEMP TABLE scratch (x int)",
      "SELECT * FROM pg_temp.scratch",
      "COMMENT ON TABLE tenant_acme.items IS 'items'",
      "GRANT SELECT ON tenant_acme.items TO app",
      "CREATE SCHEMA IF NOT EXISTS tenant_acme",
      "CREATE TRIGGER t BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION tenant_acme.f()",
      "INSERT INTO items (body) VALUES ('x') RETURNING id",
      "INSERT INTO tenant_acme.items (body) VALUES ($1), ($2)",
      "UPDATE items SET body = 'y' WHERE id = 1",
      "DELETE FROM tenant_acme.items WHERE id = 1",
      "INSERT INTO items (id, body) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET body = "
      "excluded.body",
      "MERGE INTO items i USING (VALUES (1)) v(id) ON i.id = v.id WHEN MATCHED THEN DELETE",
      "SELECT tenant_acme.items.body FROM tenant_acme.items",
      "SELECT nextval('items_id_seq')",
      "SELECT nextval('tenant_acme.items_id_seq'::regclass)",
      "SELECT currval(pg_get_serial_sequence('items', 'id'))",
      // Shared reference data, the catalogs.
      "SELECT * FROM reference.countries",
      "SELECT c.name FROM items i JOIN reference.countries c ON c.code = i.country",
      "SELECT * FROM pg_catalog.pg_tables",
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tenant_globex'",
      "SELECT n.nspname FROM pg_catalog.pg_namespace n",
      "SELECT 'pg_catalog.pg_class'::regclass",
      "SELECT 'items'::regclass",
      "SELECT oid::regclass FROM pg_class",
      "SELECT current_setting('search_path')",
      "SELECT pg_catalog.now(), 1::pg_catalog.int4, 'x'::text, now()::date",
      "SHOW search_path",
      "SHOW shardgate.tenant",
      "SHOW ALL",
      // CTEs and subqueries.
      "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT * "
      "FROM t",
      "WITH x AS (INSERT INTO items (body) VALUES ('a') RETURNING *) SELECT * FROM x",
      "SELECT * FROM items WHERE id IN (SELECT id FROM tenant_acme.items WHERE body <> '')",
      // COPY of the tenant's own tables.
      "COPY items FROM STDIN",
      "COPY tenant_acme.items (id, body) TO STDOUT WITH (FORMAT csv, HEADER)",
      "COPY (SELECT * FROM items) TO STDOUT",
      // Transactions, prepared statements, harmless settings.
      "BEGIN ISOLATION LEVEL SERIALIZABLE",
      "SAVEPOINT a",
      "ROLLBACK TO SAVEPOINT a",
      "RELEASE a",
      "COMMIT",
      "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
      "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
      "PREPARE p (int) AS SELECT * FROM items WHERE id = $1",
      "EXECUTE p (1)",
      "DEALLOCATE p",
      "SET work_mem = '64MB'",
      "SET LOCAL statement_timeout = 1000",
      "SET TIME ZONE 'UTC'",
      "SET application_name = 'web'",
      "SET datestyle TO ISO, MDY",
      "RESET work_mem",
      "SELECT set_config('application_name', 'web', false)",
      "SELECT set_config('statement_timeout', $1, true)",
      "RESET ALL",
      "DISCARD ALL",
      "DISCARD PLANS",
      "LISTEN ch",
      "NOTIFY ch, 'x'",
      "VACUUM items",
      "ANALYZE",
      "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM items",
      // Texts that only mention names in strings, comments or column names.
      "SELECT * FROM items WHERE body = 'tenant_globex.items'",
      "SELECT 'SET search_path TO tenant_globex'",
      "SELECT $$ set_config('search_path', 'x', false) $$",
      "SELECT 1 -- FROM tenant_globex.items",
      "SELECT /* tenant_globex.items */ 1",
      "SELECT \"tenant_globex\" FROM items",
      "SELECT",
      "",
      ";",
      // Parse errors go to PostgreSQL, which reports its own syntax error.
      "SELEC 1",
      "SELECT * FROM tenant_globex.items WHERE",
  });
}

TEST(RoutingGuard, UnparsableTextOnRequest) {
  GuardPolicy p = acme();
  p.refuse_unparsable = true;
  GuardVerdict v = judge(inspect_statement("SELEC 1"), p);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.sqlstate, "42501");
  EXPECT_NE(v.message.find("cannot parse"), std::string::npos);
  EXPECT_TRUE(judge(inspect_statement("SELECT 1"), p).allowed);
}

TEST(RoutingGuard, RefusesTooComplexText) {
  std::string deep = "SELECT set_config('search_path', 'tenant_globex', false), 0";
  for (int i = 0; i < 60000; ++i) deep += "+0";
  GuardVerdict v = check(deep);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.sqlstate, "42501");
  EXPECT_NE(v.message.find("nests deeper"), std::string::npos) << v.message;
}

TEST(RoutingGuard, SchemaChecksAreExactAfterFolding) {
  GuardPolicy p = acme();
  // A tenant schema with capitals must be named quoted; unquoted folds to another schema.
  p.tenant_schema = "Tenant_Acme";
  EXPECT_TRUE(judge(inspect_statement("SELECT * FROM \"Tenant_Acme\".items"), p).allowed);
  EXPECT_FALSE(judge(inspect_statement("SELECT * FROM Tenant_Acme.items"), p).allowed);
  // No shared schemas configured.
  p.shared_schemas = nullptr;
  EXPECT_FALSE(judge(inspect_statement("SELECT * FROM reference.countries"), p).allowed);
  EXPECT_TRUE(judge(inspect_statement("SELECT * FROM pg_catalog.pg_class"), p).allowed);
  // Prefixes and lookalikes are other schemas.
  p = acme();
  for (const char* sql :
       {"SELECT * FROM tenant_acme2.items", "SELECT * FROM tenant_acm.items",
        "SELECT * FROM \"tenant_acme \".items", "SELECT * FROM \"pg_catalog\"\"\".x"}) {
    EXPECT_FALSE(judge(inspect_statement(sql), p).allowed) << sql;
  }
}

TEST(RoutingGuard, CachedVerdictMatchesFreshOne) {
  StatementCache cache(16);
  for (const char* sql : {"SELECT * FROM tenant_globex.items", "SELECT * FROM items", "SET ROLE x",
                          "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$"}) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(judge(*cache.get(sql), acme()).allowed, check(sql).allowed) << sql;
    }
  }
  EXPECT_EQ(cache.misses(), 4u);
  EXPECT_EQ(cache.hits(), 8u);
}

}  // namespace
}  // namespace shardgate::routing
