#include "proxy/tenants/pause_control.h"

#include <algorithm>

namespace shardgate::proxy {

bool PauseControl::is_paused(const std::string& tenant, const std::string& shard) const {
  if (!any()) return false;
  std::lock_guard lock(mu_);
  return tenants_.contains(tenant) || shards_.contains(shard);
}

bool PauseControl::change(absl::flat_hash_set<std::string>& set, const std::string& name,
                          bool pause) {
  std::lock_guard lock(mu_);
  if (pause) {
    if (!set.insert(name).second) return false;
    active_.fetch_add(1, std::memory_order_seq_cst);
  } else {
    if (set.erase(name) == 0) return false;
    active_.fetch_sub(1, std::memory_order_seq_cst);
  }
  return true;
}

bool PauseControl::tenant_paused(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  return tenants_.contains(tenant);
}

bool PauseControl::shard_paused(const std::string& shard) const {
  std::lock_guard lock(mu_);
  return shards_.contains(shard);
}

std::vector<std::string> PauseControl::paused_tenants() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out(tenants_.begin(), tenants_.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> PauseControl::paused_shards() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out(shards_.begin(), shards_.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<std::atomic<int>> PauseControl::shard_in_flight(const std::string& shard) {
  std::lock_guard lock(mu_);
  auto& slot = shard_counts_[shard];
  if (!slot) slot = std::make_shared<std::atomic<int>>(0);
  return slot;
}

}  // namespace shardgate::proxy
