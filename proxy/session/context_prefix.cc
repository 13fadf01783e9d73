#include "proxy/session/context_prefix.h"

#include "protocol/messages.h"
#include "routing/guard/setting_rules.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

int tracked_parameter_index(std::string_view name) {
  // Asked for every parameter of every welcome: the length rules out most names before a
  // case-insensitive comparison is called.
  for (size_t i = 0; i < std::size(kTrackedParameters); ++i)
    if (kTrackedParameters[i].size() == name.size() &&
        routing::same_setting(kTrackedParameters[i], name))
      return static_cast<int>(i);
  return -1;
}

bool is_tracked_parameter(std::string_view name) { return tracked_parameter_index(name) >= 0; }

namespace {
void add_setting(std::string& sql, std::string_view name, std::optional<std::string_view> value) {
  sql += sql.empty() ? "SELECT " : ", ";
  sql += "pg_catalog.set_config(";
  sql += routing::quote_literal(name);
  sql += ", ";
  sql += value ? routing::quote_literal(*value) : std::string("NULL");  // NULL: RESET
  sql += ", false)";
}

void add_command(protocol::Bytes& out, std::string_view sql) {
  protocol::encode_parse(out, "", sql);
  protocol::encode_bind(out, protocol::BindMessage{});
  protocol::encode_execute(out, "", 0);
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
  for (const auto& [name, value] : request.parameters) {
    if (value)
      add_setting(sql, name, std::string_view(*value));
    else
      add_setting(sql, name, std::nullopt);
  }
  return sql;
}

ContextPrefix build_context_prefix(const ContextRequest& request) {
  ContextPrefix prefix;
  std::string sql = context_sql(request);
  if (request.discard_first) {
    add_command(prefix.bytes, "DISCARD ALL");  // first: it may not run in a transaction block
    prefix.commands = 1;
  }
  if (sql.empty()) return prefix;
  add_command(prefix.bytes, "BEGIN");
  add_command(prefix.bytes, sql);
  add_command(prefix.bytes, "COMMIT");
  prefix.commands += 3;
  return prefix;
}

}  // namespace shardgate::proxy
