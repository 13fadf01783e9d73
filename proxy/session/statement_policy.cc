#include "proxy/session/statement_policy.h"

#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {
// A literal safe inside a $sg$-quoted body.
std::string body_literal(std::string_view text) {
  std::string cleaned(text);
  for (size_t pos; (pos = cleaned.find("$sg$")) != std::string::npos;)
    cleaned.replace(pos, 4, "$ sg$");
  return routing::quote_literal(cleaned);
}
}  // namespace

std::string raise_sql(std::string_view sqlstate, std::string_view message, std::string_view hint) {
  std::string sql = "DO $sg$BEGIN RAISE EXCEPTION USING ERRCODE = " + body_literal(sqlstate) +
                    ", MESSAGE = " + body_literal(message);
  if (!hint.empty()) sql += ", HINT = " + body_literal(hint);
  sql += "; END$sg$";
  return sql;
}

routing::GuardPolicy guard_policy(const routing::Route& route, const config::Config& config) {
  routing::GuardPolicy p;
  p.tenant = route.tenant;
  p.tenant_schema = route.placement.schema;
  p.shared_schemas = &config.guard.shared_schemas;
  p.allow_dynamic_sql = route.tier->allow_dynamic_sql;
  p.own_database = route.placement.isolation == config::Isolation::kDatabase;
  p.transaction_pooling = route.tier->pool_mode == config::PoolMode::kTransaction;
  return p;
}

bool source_enabled(const config::Config& config, config::TenantSource source) {
  for (auto s : config.tenant.sources)
    if (s == source) return true;
  return false;
}

}  // namespace shardgate::proxy
