// A client's own search_path: SET search_path TO the tenant's schema plus shared schemas (as
// django-tenants-style applications do to reach shared tables) is applied as written and
// follows the client to every server connection it is given; anything else is refused or,
// with the search_path tenant source, switches tenant.
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/statement_policy.h"
#include "routing/guard/guard.h"
#include "routing/guard/search_path.h"

namespace shardgate::proxy {

namespace {
routing::RouteError refused_search_path(std::string_view value, std::string_view tenant) {
  auto why = routing::explain_protected_setting("search_path", tenant);
  return {"42501",
          "shardgate refused the startup setting search_path = '" + std::string(value) +
              "': " + why.reason,
          why.hint};
}
}  // namespace

bool ClientSession::search_path_allowed(const std::vector<std::string>& schemas) const {
  if (!route_) return false;
  return routing::search_path_allowed(schemas, guard_policy(*route_, *runtime_->config));
}

void ClientSession::set_search_path(std::string text) {
  search_path_ = std::move(text);
  context_key_ =
      search_path_.empty() || !route_ ? std::string() : route_->tenant + '\n' + search_path_;
}

void ClientSession::note_search_path(const routing::StatementInfo& info) {
  if (info.reset_all) {
    search_path_pending_ = std::string();  // RESET ALL / DISCARD ALL: back to the tenant's
  } else if (info.session.kind == routing::SessionCommandKind::kSetSearchPath &&
             !info.session.local) {
    search_path_pending_ = routing::search_path_text(info.session.schemas);
  } else {
    return;
  }
  search_path_pending_failed_ = false;
}

void ClientSession::track_search_path(char type, protocol::ByteSpan body) {
  if (!search_path_pending_) return;
  if (type == protocol::be::kErrorResponse) {
    search_path_pending_failed_ = true;
  } else if (type == protocol::be::kCommandComplete) {
    auto tag = protocol::decode_command_complete(body);
    if (tag && *tag == "ROLLBACK") search_path_pending_failed_ = true;
  } else if (type == protocol::be::kReadyForQuery && body.size() == 1 && body[0] == 'I') {
    // The change committed (autocommit, or COMMIT of its transaction block) unless an error
    // or a ROLLBACK came first, as PostgreSQL keeps or undoes a SET.
    if (!search_path_pending_failed_) {
      bool back_to_default = *search_path_pending_ == default_search_path_;
      set_search_path(back_to_default ? std::string() : std::move(*search_path_pending_));
    }
    search_path_pending_.reset();
  }
}

std::optional<routing::RouteError> ClientSession::search_path_switch_target(
    const routing::SessionCommand& cmd, std::string& tenant) const {
  const config::Config& config = *runtime_->config;
  const std::string& first = cmd.schemas.empty() ? cmd.value : cmd.schemas.front();
  tenant = runtime_->tenant_for_schema(first);
  if (tenant.empty()) {
    return routing::RouteError{
        "42501",
        "shardgate refused the statement: search_path may only name the schemas of tenant \"" +
            (route_ ? route_->tenant : std::string()) + "\" and shared schemas; \"" + first +
            "\" belongs to no tenant",
        "SET search_path TO <tenant schema>[, <shared schema>...] switches tenant."};
  }
  if (!config.guard.enabled) return std::nullopt;
  auto routed = routing::route_tenant(tenant, config, *runtime_->directory);
  if (auto* err = std::get_if<routing::RouteError>(&routed)) return *err;
  if (!routing::search_path_allowed(cmd.schemas,
                                    guard_policy(std::get<routing::Route>(routed), config))) {
    auto why = routing::explain_protected_setting("search_path", tenant);
    return routing::RouteError{"42501", "shardgate refused the statement: " + why.reason, why.hint};
  }
  return std::nullopt;
}

std::optional<routing::RouteError> ClientSession::read_startup_search_path(std::string_view value) {
  const config::Config& config = *runtime_->config;
  auto schemas = routing::split_search_path(value);
  if (!schemas || schemas->empty())
    return refused_search_path(value, identity_.tenant.value_or(""));
  if (source_enabled(config, config::TenantSource::kSearchPath)) {
    std::string tenant = runtime_->tenant_for_schema(schemas->front());
    if (!tenant.empty()) {
      if (identity_.tenant && *identity_.tenant != tenant)
        return routing::RouteError{"28000",
                                   "conflicting tenants: \"" + *identity_.tenant +
                                       "\" and search_path of \"" + tenant + "\"",
                                   "Name one tenant: drop search_path or shardgate.tenant."};
      identity_.tenant = tenant;
    } else if (!identity_.tenant) {
      return routing::RouteError{
          "42501",
          "search_path may only name a tenant's schema; \"" + schemas->front() +
              "\" belongs to no tenant",
          "Start search_path with the tenant's schema, or name the tenant another way."};
    }
  }
  startup_search_path_ = std::move(*schemas);
  return std::nullopt;
}

std::optional<routing::RouteError> ClientSession::apply_startup_search_path() {
  if (!startup_search_path_) return std::nullopt;
  std::vector<std::string> schemas = std::move(*startup_search_path_);
  startup_search_path_.reset();
  std::string text = routing::search_path_text(schemas);
  if (!route_) {
    return routing::RouteError{"42501",
                               "shardgate refused the startup setting search_path = '" + text +
                                   "': no tenant was named at startup to check it against",
                               "Name the tenant at startup, or SET search_path after SET "
                               "shardgate.tenant."};
  }
  if (runtime_->config->guard.enabled && !search_path_allowed(schemas))
    return refused_search_path(text, route_->tenant);
  if (text != default_search_path_) set_search_path(std::move(text));
  return std::nullopt;
}

}  // namespace shardgate::proxy
