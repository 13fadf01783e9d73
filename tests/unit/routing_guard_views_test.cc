#include <gtest/gtest.h>

#include "routing/guard/guard.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

GuardVerdict judge_text(const char* sql) {
  static const std::vector<std::string> shared;
  GuardPolicy policy;
  policy.tenant = "acme";
  policy.tenant_schema = "tenant_acme";
  policy.shared_schemas = &shared;
  return judge(inspect_statement(sql), policy);
}

TEST(RoutingGuardViews, RefusesViewsThatShowOtherTenantsData) {
  for (const char* sql : {
           "SELECT most_common_vals FROM pg_stats WHERE tablename = 'items'",
           "SELECT * FROM pg_catalog.pg_statistic",
           "SELECT query FROM pg_stat_activity",
           "SELECT query FROM pg_stat_get_activity(NULL)",
           "SELECT * FROM pg_stat_statements",
           "WITH s AS (SELECT * FROM pg_stats) SELECT count(*) FROM s",
           "SELECT pg_read_binary_file(pg_relation_filepath(16384))",
           "SELECT lo_get(16385)",
           "COPY items FROM '/etc/passwd'",
           "COPY items TO PROGRAM 'cat'",
       }) {
    auto v = judge_text(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql;
  }
}

TEST(RoutingGuardViews, RefusesRoleWideDdlAndRunTimeSequenceNames) {
  for (const char* sql : {"DROP OWNED BY tenant_victim", "REASSIGN OWNED BY a TO b",
                          "SELECT nextval($1)", "SELECT nextval(to_regclass('x'))",
                          "SELECT currval(pg_get_serial_sequence('tenant_b.items', 'id'))"}) {
    EXPECT_FALSE(judge_text(sql).allowed) << sql;
  }
  EXPECT_TRUE(judge_text("SELECT currval(pg_get_serial_sequence('items', 'id'))").allowed);
  EXPECT_TRUE(judge_text("SELECT count(*) FROM pg_catalog.pg_class").allowed);
}

}  // namespace
}  // namespace shardgate::routing
