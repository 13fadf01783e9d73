#include "routing/guard.h"

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
    const std::string& name = info.protected_settings.front();
    if (name == "standard_conforming_strings" || name == "client_encoding") {
      return refuse("it sets " + name + " to a value under which the guard could misread " +
                        "later statements (tenant " + tenant + ")",
                    name == "client_encoding"
                        ? "Use UTF8 or another encoding whose multibyte characters never "
                          "contain backslash bytes."
                        : "Leave standard_conforming_strings on.");
    }
    return refuse("it changes " + name + ", which shardgate manages for tenant " + tenant,
                  name.rfind("shardgate.", 0) == 0
                      ? "Send SET shardgate.tenant / RESET shardgate.tenant as a statement of "
                        "its own, outside a transaction block."
                      : "shardgate sets " + name +
                            " for the tenant itself; connect as the tenant you mean to act for.");
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
