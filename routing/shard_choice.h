// Which shard a tenant goes to when nobody names one: CREATE TENANT without ON SHARD, the
// target of each move of DRAIN SHARD, and default_placement's hash. Draining shards are
// never chosen. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::routing {

// The configured, non-draining shard with the fewest directory tenants, other than
// `exclude`; ties go to the first by name. Empty when there is none.
std::string least_loaded_shard(const config::Config& config, const Directory& directory,
                               std::string_view exclude = {});

// default_placement: hash[fnv1a64(tenant) % len(hash)]. When that shard is draining, the
// tenant is hashed the same way over the hash shards that are not draining (so tenants of
// the other shards keep their shard); when every hash shard drains, the first choice stands.
const std::string& hashed_shard(std::string_view tenant, const std::vector<std::string>& hash,
                                const Directory& directory);

}  // namespace shardgate::routing
