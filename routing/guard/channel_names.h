// LISTEN/NOTIFY channels are database-wide in PostgreSQL: every tenant on a shard database
// would share them. shardgate gives each tenant its own channels by carrying the tenant in
// the name the server sees, and shows the client the name it wrote.
//
// The server's name is a pure function of (tenant, channel):
//   <tenant>.<channel>                                  when it fits 63 bytes (NAMEDATALEN-1)
//   '#' + 62 hex digits of SHA-256(<tenant>.<channel>)  otherwise
// Tenant ids are [A-Za-z0-9_-] (no '.' and no '#'), so no two (tenant, channel) pairs share a
// server name. The empty channel stays empty: PostgreSQL refuses it, as it would unproxied.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "routing/guard/statement.h"

namespace shardgate::routing {

inline constexpr size_t kMaxChannelBytes = 63;

std::string server_channel_name(std::string_view tenant, std::string_view channel);

// The server name is the hashed form (the client's name cannot be read back from it).
bool is_hashed_channel(std::string_view server_channel);

// The client's name for a server channel in the short form when it belongs to `tenant`;
// nullopt otherwise (another tenant's, the hashed form, or no tenant's at all).
std::optional<std::string> client_channel_name(std::string_view tenant,
                                               std::string_view server_channel);

// `sql` (the text `info` was inspected from) with every channel site of `info` replaced by
// the tenant's server names: LISTEN/UNLISTEN/NOTIFY regenerated, pg_notify's channel literal
// re-quoted. The text unchanged when there is no site.
std::string rewrite_channels(std::string_view sql, const StatementInfo& info,
                             std::string_view tenant);

}  // namespace shardgate::routing
