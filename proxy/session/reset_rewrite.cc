#include "proxy/session/reset_rewrite.h"

#include "routing/guard/setting_rules.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {

// A setting name as SET takes it: every dotted part a quoted identifier (a custom setting
// "myapp.user_id" is var_name '.' ColId; quoting also keeps keywords from being read as such).
std::string quoted_name(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '.') {
      out += "\".\"";
      continue;
    }
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Settings SET reads as a list of identifiers (GUC_LIST_QUOTE): a single literal would become
// one quoted element, not the list the startup value holds. RESET goes to the server default
// for these (documented limit).
bool list_of_identifiers(std::string_view key) {
  return key == "search_path" || key == "temp_tablespaces" || key == "session_preload_libraries" ||
         key == "local_preload_libraries" || key == "shared_preload_libraries";
}

// Settings kept apart from the client's own: the tenant context, and transaction_* which last
// one transaction.
bool client_setting(std::string_view key) {
  return SessionSettings::is_startup_setting(key) && key != "role" &&
         key != "session_authorization" && !key.starts_with("transaction_") &&
         !list_of_identifiers(key);
}

std::string set_sql(std::string_view key, std::string_view value, bool local) {
  return std::string(local ? "SET LOCAL " : "SET ") + quoted_name(key) + " TO " +
         routing::quote_literal(value);
}

std::optional<ResetRewrite> rewrite_all(const ResetContext& ctx) {
  if (!ctx.simple_query) return std::nullopt;
  ResetRewrite r{"RESET ALL", {}, 0};
  for (const auto& [key, value] : ctx.settings->startup_values()) {
    if (!client_setting(key)) continue;
    r.sql += "; " + set_sql(key, value, false);
    ++r.hidden_completes;
  }
  if (!ctx.search_path.empty()) {
    r.sql += "; SET search_path TO " + std::string(ctx.search_path);
    ++r.hidden_completes;
  }
  if (!ctx.tenant.empty()) {
    r.sql += "; " + set_sql("shardgate.tenant", ctx.tenant, false);
    ++r.hidden_completes;
  }
  if (r.hidden_completes == 0) return std::nullopt;
  return r;
}

}  // namespace

std::optional<ResetRewrite> rewrite_reset(const routing::LoneReset& reset,
                                          const ResetContext& ctx) {
  if (!ctx.settings) return std::nullopt;
  if (reset.all) return rewrite_all(ctx);
  std::string key = routing::setting_key(reset.name);
  if (!client_setting(key)) return std::nullopt;
  const std::string* value = ctx.settings->startup_value(key);
  if (!value) return std::nullopt;  // the server's default is the client's too
  return ResetRewrite{set_sql(key, *value, reset.local), reset.keyword ? "RESET" : "", 0};
}

}  // namespace shardgate::proxy
