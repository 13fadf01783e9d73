#include "proxy/context_prefix.h"

#include "protocol/messages.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

bool is_tracked_parameter(std::string_view name) {
  for (auto p : kTrackedParameters)
    if (p == name) return true;
  return false;
}

namespace {
void add_setting(std::string& sql, std::string_view name, std::string_view value) {
  sql += sql.empty() ? "SELECT " : ", ";
  sql += "pg_catalog.set_config(";
  sql += routing::quote_literal(name);
  sql += ", ";
  sql += routing::quote_literal(value);
  sql += ", false)";
}
}  // namespace

std::string context_sql(const ContextRequest& request) {
  std::string sql;
  if (request.set_tenant) {
    if (request.placement->isolation == config::Isolation::kSchema)
      add_setting(sql, "search_path", request.search_path);
    else
      add_setting(sql, "search_path", "\"$user\", public");
    add_setting(sql, "shardgate.tenant", request.tenant);
    if (!request.tier->role.empty())
      add_setting(sql, "role", routing::expand_template(request.tier->role, request.tenant));
  }
  for (const auto& [name, value] : request.parameters) add_setting(sql, name, value);
  return sql;
}

ContextPrefix build_context_prefix(const ContextRequest& request) {
  ContextPrefix prefix;
  std::string sql = context_sql(request);
  protocol::BindMessage bind;
  if (request.discard_first) {
    protocol::encode_parse(prefix.bytes, "", "DISCARD ALL");
    protocol::encode_bind(prefix.bytes, bind);
    protocol::encode_execute(prefix.bytes, "", 0);
    prefix.commands = 1;
  }
  if (sql.empty()) return prefix;
  protocol::encode_parse(prefix.bytes, "", sql);
  protocol::encode_bind(prefix.bytes, bind);
  protocol::encode_execute(prefix.bytes, "", 0);
  protocol::encode_parse(prefix.bytes, "", "COMMIT");
  protocol::encode_bind(prefix.bytes, bind);
  protocol::encode_execute(prefix.bytes, "", 0);
  prefix.commands += 2;
  return prefix;
}

}  // namespace shardgate::proxy
