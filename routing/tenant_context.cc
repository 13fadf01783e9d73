#include "routing/tenant_context.h"

namespace shardgate::routing {

std::string quote_ident(std::string_view ident) {
  std::string out;
  out.reserve(ident.size() + 2);
  out += '"';
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quote_literal(std::string_view text) {
  // As PostgreSQL's quote_literal(): E'' form (backslashes doubled) when backslashes appear,
  // so the result means the same whatever standard_conforming_strings is.
  bool backslash = text.find('\\') != std::string_view::npos;
  std::string out;
  out.reserve(text.size() + 3);
  if (backslash) out += 'E';
  out += '\'';
  for (char c : text) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  out += '\'';
  return out;
}

std::string tenant_context_sql(std::string_view tenant, const Placement& placement,
                               const config::TierConfig& tier) {
  std::string sql;
  if (placement.isolation == config::Isolation::kSchema) {
    sql = "SET search_path TO " + quote_ident(placement.schema);
  } else {
    // A pooled server connection may have carried a schema-isolated tenant before:
    // do not let its search_path leak into this tenant's statements.
    sql = "RESET search_path";
  }
  sql += "; SET shardgate.tenant TO " + quote_literal(tenant);
  if (!tier.role.empty()) {
    sql += "; SET ROLE " + quote_ident(expand_template(tier.role, tenant));
  } else {
    sql += "; RESET ROLE";
  }
  return sql;
}

}  // namespace shardgate::routing
