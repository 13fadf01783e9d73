// PAUSE TENANT / PAUSE SHARD: which tenants and shards are paused, and how many sessions of
// each shard are in flight. Sessions look here before each transaction; the check is one
// relaxed atomic load while nothing is paused.
//
// Ordering (no lost pause): a session marks itself in flight, then checks for a pause; PAUSE
// records the pause, then waits for the in-flight counts to drain. Both sides use
// sequentially consistent operations, so either the session sees the pause or PAUSE sees
// the session.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace shardgate::proxy {

class PauseControl {
 public:
  bool any() const { return active_.load(std::memory_order_seq_cst) > 0; }
  bool is_paused(const std::string& tenant, const std::string& shard) const;

  // False when it was already paused (or, for resume, not paused).
  bool pause_tenant(const std::string& tenant) { return change(tenants_, tenant, true); }
  bool resume_tenant(const std::string& tenant) { return change(tenants_, tenant, false); }
  bool pause_shard(const std::string& shard) { return change(shards_, shard, true); }
  bool resume_shard(const std::string& shard) { return change(shards_, shard, false); }
  bool tenant_paused(const std::string& tenant) const;
  bool shard_paused(const std::string& shard) const;
  std::vector<std::string> paused_tenants() const;
  std::vector<std::string> paused_shards() const;

  // The in-flight counter of a shard's sessions (created on first use, never freed).
  std::shared_ptr<std::atomic<int>> shard_in_flight(const std::string& shard);

 private:
  bool change(absl::flat_hash_set<std::string>& set, const std::string& name, bool pause);

  mutable std::mutex mu_;
  absl::flat_hash_set<std::string> tenants_;
  absl::flat_hash_set<std::string> shards_;
  absl::flat_hash_map<std::string, std::shared_ptr<std::atomic<int>>> shard_counts_;
  std::atomic<int> active_{0};
};

}  // namespace shardgate::proxy
