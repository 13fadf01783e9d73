#include "routing/guard/guard.h"

namespace shardgate::routing {
namespace {

constexpr std::string_view kPrefix = "shardgate refused the statement: ";

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

GuardVerdict refuse(std::string message, std::string hint) {
  GuardVerdict v;
  v.allowed = false;
  v.sqlstate = "42501";
  v.message = std::string(kPrefix) + std::move(message);
  v.hint = std::move(hint);
  return v;
}

bool schema_allowed(std::string_view schema, const GuardPolicy& policy) {
  if (!policy.tenant_schema.empty() && schema == policy.tenant_schema) return true;
  if (is_builtin_allowed_schema(schema)) return true;
  if (policy.shared_schemas) {
    for (const auto& s : *policy.shared_schemas) {
      if (s == schema) return true;
    }
  }
  return false;
}

std::string allowed_list(const GuardPolicy& policy) {
  std::string out;
  if (!policy.tenant_schema.empty()) out += quoted(policy.tenant_schema) + ", ";
  out += "pg_catalog, information_schema, pg_temp";
  if (policy.shared_schemas) {
    for (const auto& s : *policy.shared_schemas) out += ", " + quoted(s);
  }
  return out;
}

}  // namespace

bool search_path_allowed(const std::vector<std::string>& schemas, const GuardPolicy& policy) {
  // Unqualified CREATEs land in the first schema listed: for a tenant with a schema of its
  // own, only pg_catalog may come before it, so nothing lands in a shared one. pg_temp listed
  // first makes CREATE TABLE, VIEW and SEQUENCE temporary: objects that outlive the
  // transaction and that the connection's next client would find by name.
  bool own_seen = policy.tenant_schema.empty();
  bool first = true;
  for (const auto& s : schemas) {
    if (!schema_allowed(s, policy)) return false;
    if (s == policy.tenant_schema) own_seen = true;
    if (!own_seen && s != "pg_catalog") return false;
    if (first && s == "pg_temp") return false;
    if (s != "pg_catalog") first = false;
  }
  return true;
}

GuardVerdict refuse_setting(std::string_view name, std::string_view tenant) {
  SettingRefusal why = explain_protected_setting(name, tenant);
  return refuse(std::move(why.reason), std::move(why.hint));
}

bool is_builtin_allowed_schema(std::string_view schema) {
  return schema == "pg_catalog" || schema == "information_schema" || schema == "pg_temp";
}

GuardVerdict judge(const StatementInfo& info, const GuardPolicy& policy) {
  const std::string tenant = quoted(policy.tenant);
  if (info.too_complex) {
    return refuse(info.parse_error + ", so the guard cannot check it for tenant " + tenant,
                  "Split the statement or flatten long operator chains (e.g. use IN (...) "
                  "or ANY($1) instead of thousands of ORed or added terms).");
  }
  if (!info.parsed) {
    if (!policy.refuse_unparsable) return {};
    return refuse("the guard cannot parse it (" + info.parse_error + ") for tenant " + tenant,
                  "Check the statement's syntax; shardgate's guard reads PostgreSQL 15 SQL.");
  }
  if (!info.refused_in_body.empty()) {
    return refuse(
        info.refused_in_body + " (refused whatever the tier allows, tenant " + tenant + ")",
        "Keep function bodies and DO blocks in sql or plpgsql the guard can read: "
        "plain statements and expressions (PL/pgSQL cursors and assignments to "
        "record fields are not readable), no RESET ALL or DEALLOCATE inside.");
  }
  if (!info.protected_settings.empty()) {
    return refuse_setting(info.protected_settings.front(), policy.tenant);
  }
  if (info.unknown_setting) {
    return refuse(
        "it changes a setting whose name is not a constant (set_config() with a computed name, "
        "or UPDATE pg_settings), which could be one shardgate manages for tenant " +
            tenant,
        "Call set_config() with a literal setting name.");
  }
  if (info.persistent_settings) {
    return refuse(info.persistent_what +
                      " changes settings for other sessions and tenants, not just tenant " + tenant,
                  "Ask an administrator to change role, database or server settings.");
  }
  if (!info.server_wide.empty() || (!info.database_wide.empty() && !policy.own_database)) {
    const std::string& what = info.server_wide.empty() ? info.database_wide : info.server_wide;
    return refuse(what + " changes an object that has no schema and is shared by every tenant of " +
                      (info.server_wide.empty() ? "the database" : "the server") +
                      ", not just tenant " + tenant,
                  "Ask an administrator. Extensions belong in a shared schema "
                  "(guard.shared_schemas), installed once by the administrator.");
  }
  if (!info.cross_tenant_view.empty()) {
    return refuse("it reads " + info.cross_tenant_view +
                      ", which shows other tenants' data (statistics or statement texts), not "
                      "just tenant " +
                      tenant + "'s",
                  "Ask an administrator for these statistics.");
  }
  if (info.dynamic_sql && !policy.allow_dynamic_sql) {
    return refuse(info.dynamic_sql_what +
                      " runs SQL the guard cannot inspect, and the tier of tenant " + tenant +
                      " does not allow dynamic SQL",
                  "Send the SQL itself, or ask an administrator to set "
                  "guard.allow_dynamic_sql: true for the tier.");
  }
  for (const auto& schema : info.qualified_schemas) {
    if (!schema_allowed(schema, policy)) {
      return refuse("it names schema " + quoted(schema) + ", outside the schemas tenant " + tenant +
                        " may use (" + allowed_list(policy) + ")",
                    "Use unqualified names or the tenant's own schema; shardgate routes each "
                    "tenant to its own schema.");
    }
  }
  for (const auto& schema : info.code_schemas) {
    if (schema != policy.tenant_schema && schema != "pg_temp") {
      return refuse("it puts a function or trigger in schema " + quoted(schema) +
                        ", where other tenants would run it; tenant " + tenant +
                        " may put code only in its own schema or pg_temp",
                    "Create functions and triggers in the tenant's own schema (unqualified "
                    "names do).");
    }
  }
  return {};
}

}  // namespace shardgate::routing
