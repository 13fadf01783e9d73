// routing/statement and routing/statement_cache: what a SQL text is, read with libpg_query.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/guard/statement.h"
#include "routing/guard/statement_cache.h"

namespace shardgate::routing {
namespace {

using Kind = SessionCommandKind;

struct SessionCase {
  std::string sql;
  Kind kind;
  std::string value;
  bool local = false;
};

TEST(RoutingStatement, SessionCommands) {
  const std::vector<SessionCase> cases = {
      {"SET shardgate.tenant = 'acme'", Kind::kSetTenant, "acme"},
      {"SET shardgate.tenant TO 'acme'", Kind::kSetTenant, "acme"},
      {"SET shardgate.tenant TO acme", Kind::kSetTenant, "acme"},
      {"SET shardgate.tenant = acme", Kind::kSetTenant, "acme"},
      {"set shardgate.tenant to acme", Kind::kSetTenant, "acme"},
      {"SET SHARDGATE.TENANT TO ACME", Kind::kSetTenant, "acme"},   // unquoted: folded
      {"SET shardgate.tenant = 'Acme'", Kind::kSetTenant, "Acme"},  // literal: as written
      {"SET shardgate.tenant TO \"Acme\"", Kind::kSetTenant, "Acme"},
      {"SET \"ShardGate.Tenant\" TO acme", Kind::kSetTenant, "acme"},
      {"SET shardgate.tenant = 'acme-corp'", Kind::kSetTenant, "acme-corp"},
      {"SET shardgate.tenant TO 123", Kind::kSetTenant, "123"},
      {"SET SESSION shardgate.tenant = 'acme'", Kind::kSetTenant, "acme"},
      {"SET LOCAL shardgate.tenant = 'acme'", Kind::kSetTenant, "acme", true},
      {"  SET shardgate.tenant = 'acme' ;  ", Kind::kSetTenant, "acme"},
      {"/* hi */ SET shardgate.tenant='acme' -- bye", Kind::kSetTenant, "acme"},
      {"SET shardgate.tenant TO DEFAULT", Kind::kResetTenant, ""},
      {"SET shardgate.tenant = DEFAULT", Kind::kResetTenant, ""},
      {"SET LOCAL shardgate.tenant TO DEFAULT", Kind::kResetTenant, "", true},
      {"RESET shardgate.tenant", Kind::kResetTenant, ""},
      {"reset SHARDGATE.Tenant;", Kind::kResetTenant, ""},
      {"SHOW shardgate.tenant", Kind::kShowTenant, ""},
      {"show SHARDGATE.TENANT;", Kind::kShowTenant, ""},
      {"SET search_path TO tenant_acme", Kind::kSetSearchPath, "tenant_acme"},
      {"SET search_path = tenant_acme, public", Kind::kSetSearchPath, "tenant_acme"},
      {"SET search_path TO 'tenant_acme'", Kind::kSetSearchPath, "tenant_acme"},
      {"SET search_path TO \"Tenant_Acme\"", Kind::kSetSearchPath, "Tenant_Acme"},
      {"set SEARCH_PATH to TENANT_ACME", Kind::kSetSearchPath, "tenant_acme"},
      {"SET SESSION search_path TO tenant_acme", Kind::kSetSearchPath, "tenant_acme"},
      {"SET LOCAL search_path TO tenant_acme", Kind::kSetSearchPath, "tenant_acme", true},
      {"SET SCHEMA 'tenant_acme'", Kind::kSetSearchPath, "tenant_acme"},
      {"SET search_path TO \"$user\", public", Kind::kSetSearchPath, "$user"},
      // Not session commands.
      {"SET shardgate.tenant = 'acme'; SELECT 1", Kind::kNone, ""},
      {"SELECT 1; SET shardgate.tenant = 'acme'", Kind::kNone, ""},
      {"SET shardgate.tenant = 'a', 'b'", Kind::kNone, ""},
      {"SET shardgate.tenant FROM CURRENT", Kind::kNone, ""},
      {"SET shardgate.tenants = 'acme'", Kind::kNone, ""},
      {"SET shardgate.other = 'acme'", Kind::kNone, ""},
      {"SHOW search_path", Kind::kNone, ""},
      {"SHOW shardgate.other", Kind::kNone, ""},
      {"SET search_path TO DEFAULT", Kind::kNone, ""},
      {"RESET search_path", Kind::kNone, ""},
      {"SELECT set_config('shardgate.tenant', 'acme', false)", Kind::kNone, ""},
      {"SET work_mem = '64MB'", Kind::kNone, ""},
      {"SELECT 'SET shardgate.tenant = acme'", Kind::kNone, ""},
      {"SET shardgate.tenant = ", Kind::kNone, ""},  // syntax error
  };
  for (const auto& c : cases) {
    StatementInfo info = inspect_statement(c.sql);
    EXPECT_EQ(info.session.kind, c.kind) << c.sql;
    EXPECT_EQ(info.session.value, c.value) << c.sql;
    EXPECT_EQ(info.session.local, c.local) << c.sql;
  }
}

TEST(RoutingStatement, SearchPathSchemas) {
  StatementInfo info = inspect_statement("SET search_path TO tenant_acme, \"Shared\", 'x y'");
  ASSERT_EQ(info.session.kind, Kind::kSetSearchPath);
  EXPECT_EQ(info.session.schemas, (std::vector<std::string>{"tenant_acme", "Shared", "x y"}));
}

TEST(RoutingStatement, SessionCommandsAreProtectedToo) {
  for (const char* sql : {"SET shardgate.tenant = 'acme'", "RESET shardgate.tenant",
                          "SET search_path TO tenant_acme", "SET SCHEMA 'tenant_acme'"}) {
    StatementInfo info = inspect_statement(sql);
    EXPECT_EQ(info.protected_settings.size(), 1u) << sql;
  }
  EXPECT_TRUE(inspect_statement("SHOW shardgate.tenant").protected_settings.empty());
}

struct ProtectedCase {
  std::string sql;
  std::vector<std::string> settings;
};

TEST(RoutingStatement, ProtectedSettings) {
  const std::vector<ProtectedCase> cases = {
      {"SET search_path TO x", {"search_path"}},
      {"SET \"Search_Path\" TO x", {"search_path"}},
      {"RESET search_path", {"search_path"}},
      {"SET ROLE other", {"role"}},
      {"RESET ROLE", {"role"}},
      {"SET SESSION AUTHORIZATION other", {"session_authorization"}},
      {"RESET SESSION AUTHORIZATION", {"session_authorization"}},
      {"SET shardgate.anything = 1", {"shardgate.anything"}},
      {"SELECT set_config('search_path', 'x', false)", {"search_path"}},
      {"SELECT set_config('SEARCH_PATH', 'x', false)", {"search_path"}},
      {"SELECT pg_catalog.set_config('role', 'x', true)", {"role"}},
      {"SELECT set_config(setting_name => 'search_path', new_value => 'x', is_local => false)",
       {"search_path"}},
      {"SELECT 1 FROM t WHERE set_config('search_path', 'x', false) > '' AND "
       "set_config('role', 'y', false) > ''",
       {"search_path", "role"}},
      {"SET search_path TO a; SET search_path TO b", {"search_path"}},
      {"SET standard_conforming_strings = off", {"standard_conforming_strings"}},
      {"SET client_encoding = 'SJIS'", {"client_encoding"}},
      {"SET NAMES 'Big5'", {"client_encoding"}},
      {"SET standard_conforming_strings = on", {}},
      {"SET client_encoding = 'UTF8'", {}},
      {"RESET client_encoding", {}},
      {"SET work_mem = '1GB'", {}},
      {"SELECT set_config('application_name', 'x', false)", {}},
      {"SELECT current_setting('search_path')", {}},
      {"SHOW search_path", {}},
  };
  for (const auto& c : cases) {
    StatementInfo info = inspect_statement(c.sql);
    ASSERT_TRUE(info.parsed) << c.sql << ": " << info.parse_error;
    EXPECT_EQ(info.protected_settings, c.settings) << c.sql;
  }
}

struct SchemaCase {
  std::string sql;
  std::vector<std::string> schemas;
};

TEST(RoutingStatement, QualifiedSchemas) {
  const std::string long_name(70, 'a');
  const std::vector<SchemaCase> cases = {
      {"SELECT * FROM items", {}},
      {"SELECT * FROM s.items", {"s"}},
      {"SELECT * FROM \"S\".items", {"S"}},
      {"SELECT * FROM S.items", {"s"}},
      {"SELECT * FROM db.s.items", {"s"}},
      {"SELECT * FROM a.t JOIN b.t ON true JOIN a.u ON true", {"a", "b"}},
      {"SELECT s.f(1)", {"s"}},
      {"SELECT 1::s.t", {"s"}},
      {"SELECT 1::int", {"pg_catalog"}},
      {"SELECT 1 OPERATOR(s.+) 1", {"s"}},
      {"SELECT x COLLATE s.c FROM t", {"s"}},
      {"SELECT 's.t'::regclass", {"s"}},
      {"SELECT '\"S\".t'::pg_catalog.regclass", {"S", "pg_catalog"}},
      {"SELECT regclass ' s . t '", {"s"}},
      {"SELECT 's'::regnamespace", {"s"}},
      {"SELECT 's.f(int)'::regprocedure", {"s"}},
      {"SELECT 's.t[]'::regtype", {"s"}},
      {"SELECT 't'::regclass", {}},
      {"SELECT nextval('s.seq')", {"s"}},
      {"SELECT setval('\"S\".seq', 1)", {"S"}},
      {"SELECT nextval('seq')", {}},
      {"SELECT nextval('12345')", {"(sequence by OID 12345)"}},
      {"SELECT nextval($1)", {"(a sequence named at run time)"}},
      {"SELECT currval(pg_get_serial_sequence('items', 'id'))", {}},
      {"SELECT currval(pg_get_serial_sequence('o.items', 'id'))", {"o"}},
      {"DROP TABLE s.t, u.v", {"s", "u"}},
      {"DROP TRIGGER trg ON s.t", {"s"}},
      {"DROP TRIGGER trg ON t", {}},
      {"DROP POLICY p ON t", {}},
      {"DROP FUNCTION s.f(int)", {"s", "pg_catalog"}},
      {"DROP SCHEMA s CASCADE", {"s"}},
      {"DROP TYPE s.t", {"s"}},
      {"DROP OPERATOR CLASS c USING btree", {}},
      {"DROP OPERATOR CLASS s.c USING btree", {"s"}},
      {"COMMENT ON COLUMN t.c IS 'x'", {}},
      {"COMMENT ON COLUMN s.t.c IS 'x'", {"s"}},
      {"CREATE SCHEMA s", {"s"}},
      {"CREATE SCHEMA AUTHORIZATION bob", {"bob"}},
      {"ALTER TABLE t SET SCHEMA s", {"s"}},
      {"ALTER SCHEMA s RENAME TO u", {"s", "u"}},
      {"ALTER SCHEMA s OWNER TO bob", {"s"}},
      {"GRANT SELECT ON ALL TABLES IN SCHEMA s TO bob", {"s"}},
      {"GRANT USAGE ON SCHEMA s TO bob", {"s"}},
      {"ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO bob", {"s"}},
      {"CREATE EXTENSION dblink SCHEMA s", {"s"}},
      {"IMPORT FOREIGN SCHEMA r FROM SERVER srv INTO s", {"s"}},
      {"REINDEX SCHEMA s", {"s"}},
      {"CREATE SEQUENCE q OWNED BY s.t.c", {"s"}},
      {"CREATE SEQUENCE q OWNED BY t.c", {}},
      {"CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION s.f()", {"s"}},
      {"CREATE INDEX ON t (c s.text_ops)", {"s"}},
      {"CREATE TABLE t (LIKE s.u)", {"s"}},
      {"CREATE TYPE s.mood AS ENUM ('a')", {"s"}},
      {"COPY s.t TO STDOUT", {"s"}},
      {"COPY (SELECT * FROM s.t) TO STDOUT", {"s"}},
      {"WITH c AS (SELECT * FROM s.t) SELECT * FROM c", {"s"}},
      {"SELECT (SELECT x FROM s.t)", {"s"}},
      {"SELECT * FROM t WHERE x IN (SELECT x FROM s.t)", {"s"}},
      {"PREPARE p AS SELECT * FROM s.t", {"s"}},
      {"CREATE VIEW v AS SELECT * FROM s.t", {"s"}},
      {"CREATE RULE r AS ON INSERT TO t DO ALSO INSERT INTO s.t VALUES (1)", {"s"}},
      {"EXPLAIN ANALYZE SELECT * FROM s.t", {"s"}},
      {"CALL s.p()", {"s"}},
      {"SELECT * FROM t WHERE body = 's.t'", {}},
      {"SELECT t.c FROM t", {}},
      {"SELECT * FROM " + long_name + ".t", {std::string(63, 'a')}},
      {"SELECT '" + long_name + ".t'::regclass", {std::string(63, 'a')}},
  };
  for (const auto& c : cases) {
    StatementInfo info = inspect_statement(c.sql);
    ASSERT_TRUE(info.parsed) << c.sql << ": " << info.parse_error;
    EXPECT_EQ(info.qualified_schemas, c.schemas) << c.sql;
  }
}

TEST(RoutingStatement, Flags) {
  EXPECT_TRUE(inspect_statement("BEGIN").transaction_control);
  EXPECT_TRUE(
      inspect_statement("START TRANSACTION ISOLATION LEVEL SERIALIZABLE").transaction_control);
  EXPECT_TRUE(inspect_statement("SELECT 1; COMMIT").transaction_control);
  EXPECT_TRUE(inspect_statement("SAVEPOINT a").transaction_control);
  EXPECT_TRUE(inspect_statement("ROLLBACK TO SAVEPOINT a").transaction_control);
  EXPECT_FALSE(inspect_statement("SELECT 1").transaction_control);
  EXPECT_TRUE(inspect_statement("RESET ALL").reset_all);
  EXPECT_TRUE(inspect_statement("DISCARD ALL").reset_all);
  EXPECT_FALSE(inspect_statement("DISCARD PLANS").reset_all);
  EXPECT_FALSE(inspect_statement("RESET work_mem").reset_all);
  EXPECT_TRUE(inspect_statement("ALTER SYSTEM SET work_mem = '1GB'").persistent_settings);
  EXPECT_TRUE(inspect_statement("ALTER ROLE bob SET work_mem = '1GB'").persistent_settings);
  EXPECT_TRUE(inspect_statement("ALTER DATABASE app RESET ALL").persistent_settings);
  EXPECT_FALSE(inspect_statement("ALTER ROLE bob PASSWORD 'x'").persistent_settings);
  // Bodies in sql and plpgsql are read, not refused as such (routing_function_body_test.cc).
  EXPECT_FALSE(inspect_statement("DO $$ BEGIN END $$").dynamic_sql);
  EXPECT_FALSE(inspect_statement("CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'").dynamic_sql);
  EXPECT_EQ(inspect_statement("DO LANGUAGE plperl $$ 1 $$").dynamic_sql_what,
            "DO block in language plperl");
  EXPECT_EQ(inspect_statement("CREATE PROCEDURE p() LANGUAGE c AS 'lib', 'sym'").dynamic_sql_what,
            "procedure in language c");
  EXPECT_EQ(inspect_statement("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$").dynamic_sql_what,
            "EXECUTE of a computed string in PL/pgSQL");
  EXPECT_EQ(inspect_statement("SELECT dblink_exec('x')").dynamic_sql_what, "function dblink_exec");
  EXPECT_TRUE(inspect_statement("SELECT set_config($1, 'x', false)").unknown_setting);
  EXPECT_TRUE(inspect_statement("UPDATE pg_settings SET setting = 'x'").unknown_setting);
  EXPECT_FALSE(inspect_statement("UPDATE items SET body = 'x'").unknown_setting);
}

TEST(RoutingStatement, CountsAndErrors) {
  EXPECT_EQ(inspect_statement("SELECT 1; SELECT 2; SELECT 3").statement_count, 3);
  StatementInfo empty = inspect_statement("");
  EXPECT_TRUE(empty.parsed);
  EXPECT_EQ(empty.statement_count, 0);
  EXPECT_EQ(inspect_statement("-- only a comment").statement_count, 0);
  StatementInfo bad = inspect_statement("SELEC 1");
  EXPECT_FALSE(bad.parsed);
  EXPECT_FALSE(bad.too_complex);
  EXPECT_NE(bad.parse_error.find("syntax error"), std::string::npos) << bad.parse_error;
  // PostgreSQL reads the query string up to its NUL: so does the guard.
  StatementInfo nul = inspect_statement(std::string_view("SELECT 1\0 garbage (", 19));
  EXPECT_TRUE(nul.parsed) << nul.parse_error;
  EXPECT_EQ(nul.statement_count, 1);
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * n);
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(RoutingStatement, DeepTextsNeitherCrashNorSlipThrough) {
  // Long operator chains: libpg_query's own recursion would overflow the stack.
  for (int n : {50000, 200000}) {
    StatementInfo info = inspect_statement("SELECT " + repeat("1+", n) + "1");
    EXPECT_TRUE(info.too_complex) << n;
    EXPECT_FALSE(info.parsed);
  }
  StatementInfo casts = inspect_statement("SELECT 1" + repeat("::int", 20000));
  EXPECT_TRUE(casts.too_complex);
  StatementInfo unions = inspect_statement(repeat("SELECT 1 UNION ", 20000) + "SELECT 1");
  EXPECT_TRUE(unions.too_complex);
  // Chains that span commas and AND: still bounded.
  EXPECT_TRUE(inspect_statement(repeat("SELECT 1, 2 UNION ", 30000) + "SELECT 1, 2").too_complex);
  EXPECT_TRUE(
      inspect_statement("SELECT * FROM t" + repeat(" JOIN t ON true AND true", 30000)).too_complex);
  EXPECT_TRUE(inspect_statement("SELECT ARRAY" + repeat("[", 30000) + "1" + repeat("]", 30000))
                  .too_complex);
  // Deep but within the limit: parsed on a helper thread with a big stack, findings intact.
  StatementInfo deep = inspect_statement("SELECT set_config('search_path', 'x', false), " +
                                         repeat("1+", 3000) + "1 FROM tenant_globex.items");
  ASSERT_TRUE(deep.parsed) << deep.parse_error;
  EXPECT_EQ(deep.protected_settings, std::vector<std::string>{"search_path"});
  EXPECT_EQ(deep.qualified_schemas, std::vector<std::string>{"tenant_globex"});
  StatementInfo joins = inspect_statement("SELECT * FROM t" + repeat(" JOIN s.t ON true", 1500));
  ASSERT_TRUE(joins.parsed) << joins.parse_error;
  EXPECT_EQ(joins.qualified_schemas, std::vector<std::string>{"s"});
  // Within the fast path: parsed normally.
  StatementInfo medium = inspect_statement("SELECT " + repeat("1+", 1000) + "1");
  EXPECT_TRUE(medium.parsed) << medium.parse_error;
  EXPECT_FALSE(medium.too_complex);
  // Deep parentheses: PostgreSQL's grammar stack gives up first (a syntax error, no crash).
  StatementInfo parens =
      inspect_statement("SELECT " + repeat("(", 100000) + "1" + repeat(")", 100000));
  EXPECT_FALSE(parens.parsed);
  StatementInfo nots = inspect_statement("SELECT " + repeat("NOT ", 100000) + "true");
  EXPECT_FALSE(nots.parsed);
  // A big but flat bulk INSERT (with negative numbers) is parsed, not refused.
  std::string bulk = "INSERT INTO t (a, b, c) VALUES ";
  for (int i = 0; i < 5000; ++i) {
    bulk += (i ? ", (" : "(") + std::to_string(i) + ", -" + std::to_string(i) + ", 'x''y')";
  }
  StatementInfo big = inspect_statement(bulk);
  EXPECT_TRUE(big.parsed) << big.parse_error;
  EXPECT_FALSE(big.too_complex);
  // A long ORed condition list is flat as well.
  StatementInfo ors =
      inspect_statement("SELECT * FROM t WHERE " + repeat("id = 1 OR ", 5000) + "false");
  EXPECT_TRUE(ors.parsed) << ors.parse_error;
  // A protected change hidden behind a long flat text is still found.
  StatementInfo hidden = inspect_statement(bulk + "; SELECT set_config('search_path', 'x', false)");
  ASSERT_TRUE(hidden.parsed);
  EXPECT_EQ(hidden.protected_settings, std::vector<std::string>{"search_path"});
}

TEST(RoutingStatementCache, HitsMissesAndSharing) {
  StatementCache cache(4);
  auto a = cache.get("SELECT 1");
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 0u);
  auto b = cache.get("SELECT 1");
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(a.get(), b.get());
  auto c = cache.get("SELECT 1 ");  // a different text is a different entry
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_TRUE(a->parsed);
  EXPECT_GT(cache.bytes(), 0u);
}

TEST(RoutingStatementCache, EvictsLeastRecentlyUsed) {
  StatementCache cache(3);
  cache.get("SELECT 1");
  cache.get("SELECT 2");
  cache.get("SELECT 3");
  cache.get("SELECT 1");  // now most recent: SELECT 2 is the oldest
  auto held = cache.get("SELECT 2");
  cache.get("SELECT 4");  // evicts SELECT 3
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  uint64_t misses = cache.misses();
  cache.get("SELECT 1");
  cache.get("SELECT 2");
  cache.get("SELECT 4");
  EXPECT_EQ(cache.misses(), misses);
  cache.get("SELECT 3");
  EXPECT_EQ(cache.misses(), misses + 1);
  EXPECT_TRUE(held->parsed);  // still valid whatever the cache evicted
}

TEST(RoutingStatementCache, BoundedByBytes) {
  StatementCache cache(1000, 16 * 1024);
  for (int i = 0; i < 200; ++i) {
    cache.get("SELECT " + std::to_string(i) + " /* " + std::string(200, 'x') + " */");
  }
  EXPECT_LE(cache.bytes(), 16u * 1024);
  EXPECT_LT(cache.size(), 200u);
  EXPECT_GT(cache.evictions(), 0u);
  // A text bigger than the per-entry limit is inspected but not kept.
  StatementCache big(10);
  std::string huge = "SELECT 1 /* " + std::string(StatementCache::kMaxCachedTextBytes, 'x') + " */";
  EXPECT_TRUE(big.get(huge)->parsed);
  EXPECT_EQ(big.size(), 0u);
  big.clear();
  EXPECT_EQ(big.bytes(), 0u);
}

}  // namespace
}  // namespace shardgate::routing
