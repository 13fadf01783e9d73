// REBALANCE PLAN's decision: which tenants to move where so every shard ends up near the
// mean. Pure and deterministic; the admin command measures the weights (schema bytes or
// queries) and shows or carries out what this returns.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace shardgate::moves {

struct TenantWeight {
  std::string tenant;
  std::string shard;
  double weight = 0;
  bool movable = true;  // false: counts toward its shard, never moved (e.g. isolation shared)
};

struct RebalanceInput {
  std::vector<std::string> shards;  // the shards that take tenants (draining ones left out)
  std::vector<TenantWeight> tenants;
  size_t max_moves = 100;
};

struct PlannedMove {
  std::string tenant, from, to;
  double weight = 0;
  double from_before = 0, from_after = 0, to_before = 0, to_after = 0;
};

struct RebalancePlan {
  std::vector<PlannedMove> moves;
  std::map<std::string, double> before, after;  // shard totals
  double mean = 0;
  bool balanced = false;  // every shard within kRebalanceThreshold of the mean afterwards
};

// A shard is balanced within this fraction of the mean total (10%).
inline constexpr double kRebalanceThreshold = 0.10;
// A move is planned only if it narrows the spread (fullest minus emptiest shard) by at least
// this fraction of the mean (1%): no tenant is moved for a tiny gain.
inline constexpr double kRebalanceMinGain = 0.01;

// Greedy: while some shard is outside the threshold and fewer than max_moves are planned,
// move the tenant of the fullest shard to the emptiest shard that narrows the spread the most
// (a tenant moves at most once); stop when no move narrows it by the minimum gain. Tenants
// on shards not in `shards` are ignored.
RebalancePlan plan_rebalance(const RebalanceInput& input);

// Whether every total is within kRebalanceThreshold of the mean.
bool within_threshold(const std::map<std::string, double>& totals, double mean);

}  // namespace shardgate::moves
