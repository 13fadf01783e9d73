// routing/guard/statement_shape.h: which texts get a shape, what it keeps and what it masks,
// and that StatementCache serves statements with fresh literal values from one entry.
#include <gtest/gtest.h>

#include <string>

#include "routing/guard/statement_cache.h"
#include "routing/guard/statement_shape.h"

namespace shardgate::routing {
namespace {

TEST(StatementShape, MasksLiteralValuesOnly) {
  EXPECT_EQ(statement_shape("SELECT abalance FROM tenant_acme.pgbench_accounts WHERE aid = 17;"),
            "SELECT abalance FROM tenant_acme.pgbench_accounts WHERE aid = 0;");
  EXPECT_EQ(statement_shape("SELECT \"t\".\"aid\" FROM \"t\" WHERE \"t\".\"aid\" = 4242 LIMIT 21"),
            "SELECT \"t\".\"aid\" FROM \"t\" WHERE \"t\".\"aid\" = 0 LIMIT 0");
  EXPECT_EQ(statement_shape("insert into t1 (a, b) values ('it''s', 1.5e3), ($1, -2)"),
            "insert into t1 (a, b) values ('?', 0.0e3), ($1, -0)");
  EXPECT_EQ(statement_shape("UPDATE items SET body = 'x' WHERE id = $12"),
            "UPDATE items SET body = '?' WHERE id = $12");
  EXPECT_EQ(statement_shape("WITH c AS (SELECT 1) SELECT * FROM c"),
            "WITH c AS (SELECT 0) SELECT * FROM c");
  // Fresh values, one key; names, quoting and qualification stay apart.
  EXPECT_EQ(statement_shape("SELECT * FROM items WHERE id = 1 AND body = 'a'"),
            statement_shape("SELECT * FROM items WHERE id = 99 AND body = 'bbb'"));
  EXPECT_NE(statement_shape("SELECT * FROM a.items"), statement_shape("SELECT * FROM b.items"));
  EXPECT_NE(statement_shape("SELECT * FROM \"Items\""), statement_shape("SELECT * FROM Items"));
  EXPECT_NE(statement_shape("SELECT * FROM items"), statement_shape("SELECT * FROM items2"));
}

TEST(StatementShape, NoShapeWhereALiteralCanNameSomething) {
  for (const char* sql : {
           "SELECT set_config('search_path', 'tenant_b', false)",
           "SELECT \"set_config\"('search_path', 'tenant_b', false)",
           "SELECT nextval('tenant_b.seq')",
           "SELECT 'tenant_b.t'::regclass",
           "SELECT 'tenant_b.t'::pg_catalog.\"regclass\"",
           "SELECT query_to_xml('select 1', true, true, '')",
           "SELECT pg_notify('jobs', 'x')",
           "SELECT * FROM pg_stat_activity",
           "SELECT pg_advisory_lock(1)",
           "SELECT 1 INTO TEMP t",
       }) {
    EXPECT_FALSE(statement_shape(sql)) << sql;
  }
}

TEST(StatementShape, NoShapeForWhatTheScanIsNotSureOf) {
  for (const char* sql : {
           "",
           "SET work_mem = '1MB'",
           "CREATE TABLE t (i int)",
           "DO $$BEGIN END$$",
           "SELECT $$x$$",
           "SELECT E'\\x'",
           "SELECT 'a\\b'",
           "SELECT U&'\\0041'",
           "SELECT U&\"x\"",
           "SELECT B'01'",
           "SELECT X'0F'",
           "SELECT 1; SELECT 2",
           "SELECT 1 -- c",
           "SELECT /* c */ 1",
           "SELECT 'unterminated",
           "SELECT \"unterminated",
           "SELECT 'caf\xc3\xa9'",
           "'x' SELECT",
           "SELECT $1a",
           "SELECT ?",
       }) {
    EXPECT_FALSE(statement_shape(sql)) << sql;
  }
}

TEST(StatementShape, NamesUpToPostgresLengthOnly) {
  std::string name(63, 'n');
  EXPECT_TRUE(statement_shape("SELECT " + name + " FROM t WHERE id = 1"));
  EXPECT_TRUE(statement_shape("SELECT \"" + name + "\" FROM t WHERE id = 1"));
  // PostgreSQL would truncate these; the full inspector decides.
  EXPECT_FALSE(statement_shape("SELECT " + name + "n FROM t WHERE id = 1"));
  EXPECT_FALSE(statement_shape("SELECT \"" + name + "n\" FROM t WHERE id = 1"));
  // A doubled quote inside counts as one byte of the name.
  EXPECT_TRUE(statement_shape("SELECT \"" + std::string(61, 'q') + "\"\"\" FROM t"));
  EXPECT_FALSE(statement_shape("SELECT \"" + std::string(62, 'q') + "\"\"\"\"\" FROM t"));
}

TEST(StatementShape, CacheServesFreshValuesFromOneEntry) {
  StatementCache cache;
  auto a = cache.get("SELECT \"t\".\"a\" FROM tenant_acme.t WHERE \"t\".\"id\" = 1 LIMIT 21");
  auto b = cache.get("SELECT \"t\".\"a\" FROM tenant_acme.t WHERE \"t\".\"id\" = 2 LIMIT 21");
  EXPECT_EQ(a, b);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.shape_hits(), 1u);
  ASSERT_EQ(b->qualified_schemas.size(), 1u);
  EXPECT_EQ(b->qualified_schemas[0], "tenant_acme");
  // Another schema is another key, inspected on its own.
  auto c = cache.get("SELECT \"t\".\"a\" FROM tenant_b.t WHERE \"t\".\"id\" = 3 LIMIT 21");
  EXPECT_NE(c, a);
  EXPECT_EQ(c->qualified_schemas[0], "tenant_b");
  // What does not parse is kept under its text (the error quotes it), never under a shape.
  auto bad1 = cache.get("SELECT FROM WHERE 1 = 'x'");
  auto bad2 = cache.get("SELECT FROM WHERE 2 = 'y'");
  EXPECT_FALSE(bad1->parsed);
  EXPECT_NE(bad1, bad2);
}

}  // namespace
}  // namespace shardgate::routing
