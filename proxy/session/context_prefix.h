// The statements shardgate pipelines in front of a client's first message on a server
// connection that does not yet carry the client's tenant context or parameters. They ride in
// the same write as the client's own message: no extra round trip.
//
// Shape (extended protocol, no Sync): Parse/Bind/Execute of BEGIN, of one SELECT of
// set_config(...) calls, then of COMMIT. The COMMIT makes the context independent of the
// client's transaction (a later ROLLBACK cannot undo it); the BEGIN makes that COMMIT end a
// transaction block, so PostgreSQL logs nothing (a COMMIT of the implicit transaction of
// unsynced messages draws "WARNING: there is no transaction in progress"). If the SELECT
// fails, PostgreSQL skips every following message up to the next Sync, so the client's
// statement never runs in a wrong context.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "protocol/bytes.h"
#include "routing/directory.h"

namespace shardgate::proxy {

// Settings PostgreSQL reports to the client (ParameterStatus) that a client can set, in
// PostgreSQL's spelling.
inline constexpr std::string_view kTrackedParameters[] = {
    "client_encoding", "DateStyle",        "TimeZone",
    "IntervalStyle",   "application_name", "standard_conforming_strings"};
// Whether `name` (any case: GUC names are case-insensitive) is one of them.
bool is_tracked_parameter(std::string_view name);
// Its index in kTrackedParameters, or -1.
int tracked_parameter_index(std::string_view name);

struct ContextPrefix {
  protocol::Bytes bytes;
  int commands = 0;  // CommandCompletes the prefix produces (to be swallowed)
  bool empty() const { return bytes.empty(); }
};

struct ContextRequest {
  bool discard_first = false;  // the connection last served another tenant: DISCARD ALL first
  bool set_tenant = false;     // the tenant context is missing or stale
  std::string_view tenant;
  const routing::Placement* placement = nullptr;
  const config::TierConfig* tier = nullptr;
  // The search_path to set (isolation schema): the tenant's schema, or the list the client
  // set itself with SET search_path, in the text PostgreSQL stores.
  std::string_view search_path;
  // Client settings to apply; an empty value resets the setting (set_config(name, NULL)).
  std::vector<std::pair<std::string, std::optional<std::string>>> parameters;
};

// The SELECT set_config(...) text; exposed for tests.
std::string context_sql(const ContextRequest& request);
ContextPrefix build_context_prefix(const ContextRequest& request);

}  // namespace shardgate::proxy
