// The statements shardgate pipelines in front of a client's first message on a server
// connection that does not yet carry the client's tenant context or parameters. They ride in
// the same write as the client's own message: no extra round trip.
//
// Shape (extended protocol, no Sync): Parse/Bind/Execute of one SELECT of set_config(...)
// calls, then Parse/Bind/Execute of COMMIT. The COMMIT makes the context independent of the
// client's transaction (a later ROLLBACK cannot undo it). If the SELECT fails, PostgreSQL
// skips every following message up to the next Sync, so the client's statement never runs
// in a wrong context.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "protocol/bytes.h"
#include "routing/directory.h"

namespace shardgate::proxy {

// Parameters a client sets that must follow it from server connection to server connection.
inline constexpr std::string_view kTrackedParameters[] = {
    "client_encoding", "DateStyle",        "TimeZone",
    "IntervalStyle",   "application_name", "standard_conforming_strings"};
bool is_tracked_parameter(std::string_view name);

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
  std::vector<std::pair<std::string, std::string>> parameters;  // client values to apply
};

// The SELECT set_config(...) text; exposed for tests.
std::string context_sql(const ContextRequest& request);
ContextPrefix build_context_prefix(const ContextRequest& request);

}  // namespace shardgate::proxy
