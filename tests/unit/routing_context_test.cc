// routing/tenant_context: quoting and the statements that give a server connection a tenant.
#include <gtest/gtest.h>

#include "config/config.h"
#include "routing/directory.h"
#include "routing/tenant_context.h"

namespace shardgate::routing {
namespace {

TEST(RoutingContext, QuoteIdent) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"acme", "\"acme\""},
      {"Tenant_Acme", "\"Tenant_Acme\""},
      {"", "\"\""},
      {"a\"b", "\"a\"\"b\""},
      {"\"", "\"\"\"\""},
      {"select", "\"select\""},
      {"x; DROP TABLE t", "\"x; DROP TABLE t\""},
      {"back\\slash", "\"back\\slash\""},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(quote_ident(in), out) << in;
}

TEST(RoutingContext, QuoteLiteral) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"acme", "'acme'"},
      {"", "''"},
      {"it's", "'it''s'"},
      {"''", "''''''"},
      {"a\\b", "E'a\\\\b'"},
      {"\\'", "E'\\\\'''"},
      {"x'); DROP TABLE t; --", "'x''); DROP TABLE t; --'"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(quote_literal(in), out) << in;
}

config::TierConfig tier_with_role(std::string role) {
  config::TierConfig t;
  t.name = "t";
  t.role = std::move(role);
  return t;
}

Placement placement(config::Isolation isolation, std::string schema = "tenant_acme") {
  Placement p;
  p.shard = "s1";
  p.schema = std::move(schema);
  p.tier = "t";
  p.isolation = isolation;
  return p;
}

TEST(RoutingContext, TenantContextSql) {
  struct Case {
    const char* name;
    Placement placement;
    config::TierConfig tier;
    std::string sql;
  };
  const std::vector<Case> cases = {
      {"schema_with_role", placement(config::Isolation::kSchema), tier_with_role("tenant_{tenant}"),
       "SET search_path TO \"tenant_acme\"; SET shardgate.tenant TO 'acme'; "
       "SET ROLE \"tenant_acme\""},
      {"schema_no_role", placement(config::Isolation::kSchema), tier_with_role(""),
       "SET search_path TO \"tenant_acme\"; SET shardgate.tenant TO 'acme'; RESET ROLE"},
      {"schema_fixed_role", placement(config::Isolation::kSchema, "Weird\"Schema"),
       tier_with_role("app_rw"),
       "SET search_path TO \"Weird\"\"Schema\"; SET shardgate.tenant TO 'acme'; "
       "SET ROLE \"app_rw\""},
      {"shared", placement(config::Isolation::kShared), tier_with_role(""),
       "RESET search_path; SET shardgate.tenant TO 'acme'; RESET ROLE"},
      {"shared_with_role", placement(config::Isolation::kShared), tier_with_role("r_{tenant}"),
       "RESET search_path; SET shardgate.tenant TO 'acme'; SET ROLE \"r_acme\""},
      {"database", placement(config::Isolation::kDatabase), tier_with_role(""),
       "RESET search_path; SET shardgate.tenant TO 'acme'; RESET ROLE"},
  };
  for (const auto& tc : cases) {
    EXPECT_EQ(tenant_context_sql("acme", tc.placement, tc.tier), tc.sql) << tc.name;
  }
}

}  // namespace
}  // namespace shardgate::routing
