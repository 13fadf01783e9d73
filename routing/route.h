// Routing as a pure function: startup parameters + config + directory -> a decision.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::routing {

// What a client sent at startup that matters for routing.
struct StartupIdentity {
  std::string user;
  std::string database;
  std::string options;  // the raw `options` startup parameter
};

// An error to send the client: severity decided by the caller (FATAL at startup, ERROR later).
struct RouteError {
  std::string sqlstate;
  std::string message;
  std::string hint;
};

// The PostgreSQL command-line style `options` string split into its settings.
struct ParsedOptions {
  std::vector<std::pair<std::string, std::string>> settings;  // from -c name=value / --name=value
  bool ok = true;
};
ParsedOptions parse_options(std::string_view options);
// Re-serializes settings (escaping spaces and backslashes) for the server's options parameter.
std::string format_options(const std::vector<std::pair<std::string, std::string>>& settings);

struct Identity {
  std::string login_user;             // the configured user the client authenticates as
  std::optional<std::string> tenant;  // tenant named at startup, if any
  std::string source;                 // which source named it: options|user_suffix|database
  // Startup options other than shardgate.*, to pass on to the server.
  std::vector<std::pair<std::string, std::string>> passthrough_options;
};

// Works out the login user and the tenant from startup parameters, trying the configured
// sources in order. Does not consult the directory or check allow-lists.
std::variant<Identity, RouteError> resolve_identity(const StartupIdentity& startup,
                                                    const config::Config& config);

// Whether `user` may act for `tenant`; 42501 error when not.
std::optional<RouteError> check_tenant_allowed(const config::UserConfig& user,
                                               std::string_view tenant);

struct Route {
  std::string tenant;
  Placement placement;
  const config::ShardConfig* shard = nullptr;  // points into the config snapshot
  const config::TierConfig* tier = nullptr;
};

// Looks a tenant up (falling back to directory.default_placement) -> 3D000 when unknown.
std::variant<Route, RouteError> route_tenant(std::string_view tenant, const config::Config& config,
                                             const Directory& directory);

// The 28000 error for "no tenant given", listing the ways to pass one.
RouteError no_tenant_error(const config::Config& config, bool at_startup);

// Stable 64-bit FNV-1a, used by default_placement: hash.
uint64_t stable_hash(std::string_view s);

}  // namespace shardgate::routing
