#include "routing/shard_choice.h"

#include <limits>
#include <map>

#include "routing/route.h"

namespace shardgate::routing {

std::string least_loaded_shard(const config::Config& config, const Directory& directory,
                               std::string_view exclude) {
  std::map<std::string, size_t> load;
  for (const auto& [name, s] : config.shards)
    if (name != exclude && !directory.draining(name)) load[name] = 0;
  for (const auto& [t, p] : directory.tenants())
    if (auto it = load.find(p.shard); it != load.end()) ++it->second;
  std::string best;
  size_t fewest = std::numeric_limits<size_t>::max();
  for (const auto& [name, n] : load)
    if (n < fewest) {
      fewest = n;
      best = name;
    }
  return best;
}

const std::string& hashed_shard(std::string_view tenant, const std::vector<std::string>& hash,
                                const Directory& directory) {
  uint64_t h = stable_hash(tenant);
  const std::string& first = hash[h % hash.size()];
  if (!directory.draining(first)) return first;
  std::vector<const std::string*> open;
  for (const auto& s : hash)
    if (!directory.draining(s)) open.push_back(&s);
  return open.empty() ? first : *open[h % open.size()];
}

}  // namespace shardgate::routing
