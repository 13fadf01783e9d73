#include "proxy/moves/rebalance_plan.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

namespace shardgate::moves {

namespace {

using Totals = std::map<std::string, double>;

double spread(const Totals& t) {
  auto [lo, hi] = std::minmax_element(
      t.begin(), t.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return hi->second - lo->second;
}

// The fullest and the emptiest shard; ties go to the first by name.
std::pair<std::string, std::string> extremes(const Totals& t) {
  const std::pair<const std::string, double>*hi = nullptr, *lo = nullptr;
  for (const auto& e : t) {
    if (!hi || e.second > hi->second) hi = &e;
    if (!lo || e.second < lo->second) lo = &e;
  }
  return {hi->first, lo->first};
}

struct Candidate {
  const TenantWeight* tenant = nullptr;
  double spread = 0;
};

// The tenant of `from` whose move to `to` leaves the smallest spread (ties: the first by name).
std::optional<Candidate> best_move(const RebalanceInput& input, const Totals& totals,
                                   const std::set<std::string>& moved, const std::string& from,
                                   const std::string& to) {
  std::optional<Candidate> best;
  for (const auto& t : input.tenants) {
    if (t.shard != from || !t.movable || t.weight <= 0 || moved.contains(t.tenant)) continue;
    Totals next = totals;
    next[from] -= t.weight;
    next[to] += t.weight;
    double s = spread(next);
    if (!best || s < best->spread || (s == best->spread && t.tenant < best->tenant->tenant))
      best = Candidate{&t, s};
  }
  return best;
}

}  // namespace

bool within_threshold(const Totals& totals, double mean) {
  for (const auto& [shard, total] : totals)
    if (std::abs(total - mean) > kRebalanceThreshold * mean) return false;
  return true;
}

RebalancePlan plan_rebalance(const RebalanceInput& input) {
  RebalancePlan plan;
  for (const auto& s : input.shards) plan.before[s] = 0;
  for (const auto& t : input.tenants)
    if (auto it = plan.before.find(t.shard); it != plan.before.end()) it->second += t.weight;
  plan.after = plan.before;
  if (plan.before.empty()) return plan;
  double sum = 0;
  for (const auto& [s, total] : plan.before) sum += total;
  plan.mean = sum / static_cast<double>(plan.before.size());
  std::set<std::string> moved;
  while (plan.moves.size() < input.max_moves && !within_threshold(plan.after, plan.mean)) {
    auto [from, to] = extremes(plan.after);
    auto best = best_move(input, plan.after, moved, from, to);
    if (!best || best->spread > spread(plan.after) - kRebalanceMinGain * plan.mean) break;
    const TenantWeight& t = *best->tenant;
    PlannedMove m{t.tenant,
                  from,
                  to,
                  t.weight,
                  plan.after[from],
                  plan.after[from] - t.weight,
                  plan.after[to],
                  plan.after[to] + t.weight};
    plan.after[from] = m.from_after;
    plan.after[to] = m.to_after;
    moved.insert(t.tenant);
    plan.moves.push_back(std::move(m));
  }
  plan.balanced = within_threshold(plan.after, plan.mean);
  return plan;
}

}  // namespace shardgate::moves
