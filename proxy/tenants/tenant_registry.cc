#include "proxy/tenants/tenant_registry.h"

#include "pool/pool_decisions.h"
#include "proxy/runtime/runtime.h"
#include "routing/route.h"

namespace shardgate::proxy {

TenantLimits tenant_limits(const routing::Placement& placement, const config::TierConfig& tier) {
  TenantLimits limits;
  limits.tier = tier.name;
  limits.rate = placement.rate ? *placement.rate : tier.rate;
  limits.max_client_connections = placement.max_client_connections
                                      ? placement.max_client_connections
                                      : tier.max_client_connections;
  return limits;
}

void TenantState::configure(const TenantLimits& limits) {
  bucket.configure(limits.rate.queries_per_second, limits.rate.burst,
                   limits.rate.action == config::RateAction::kThrottle, limits.rate.max_delay);
  queries_per_second = limits.rate.queries_per_second;
  max_clients = limits.max_client_connections.value_or(0);
  std::lock_guard lock(errors_mu_);
  if (tier_ != limits.tier) tier_ = limits.tier;
}

std::string TenantState::tier() const {
  std::lock_guard lock(errors_mu_);
  return tier_;
}

TenantCounts TenantState::counts() const {
  TenantCounts c;
  c.queries = queries.load(std::memory_order_relaxed);
  c.rate_limited = rate_limited.load(std::memory_order_relaxed);
  c.latency = latency.snapshot();
  std::lock_guard lock(errors_mu_);
  for (const auto& [cls, n] : errors_) c.errors[cls] = n;
  return c;
}

TenantCounts& TenantCounts::operator+=(const TenantCounts& other) {
  queries += other.queries;
  rate_limited += other.rate_limited;
  latency += other.latency;
  for (const auto& [cls, n] : other.errors) errors[cls] += n;
  return *this;
}

TenantCounts& TenantCounts::operator-=(const TenantCounts& baseline) {
  auto minus = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  queries = minus(queries, baseline.queries);
  rate_limited = minus(rate_limited, baseline.rate_limited);
  latency -= baseline.latency;
  for (auto& [cls, n] : errors) {
    auto it = baseline.errors.find(cls);
    if (it != baseline.errors.end()) n = minus(n, it->second);
  }
  return *this;
}

std::shared_ptr<TenantState> TenantRegistry::get(const std::string& tenant,
                                                 const TenantLimits& limits) {
  std::shared_ptr<TenantState> state;
  {
    std::lock_guard lock(mu_);
    auto& slot = tenants_[tenant];
    if (!slot) slot = std::make_shared<TenantState>(tenant);
    state = slot;
  }
  state->configure(limits);
  return state;
}

routing::TokenBucket::Decision TenantState::take_query() {
  queries.fetch_add(1, std::memory_order_relaxed);
  auto decision = bucket.take(routing::TokenBucket::Clock::now());
  if (!decision.allowed) rate_limited.fetch_add(1, std::memory_order_relaxed);
  return decision;
}

void TenantState::count_error(std::string_view sqlstate) {
  std::string cls(sqlstate.substr(0, 2));
  if (cls.size() != 2) cls = "XX";
  std::lock_guard lock(errors_mu_);
  ++errors_[cls];
}

std::vector<std::pair<std::string, uint64_t>> TenantState::errors_by_class() const {
  std::lock_guard lock(errors_mu_);
  return {errors_.begin(), errors_.end()};
}

namespace {
int64_t nanoseconds_of(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Time points are kept as nanoseconds since the clock's epoch, in atomics every worker reads.
void stamp(std::atomic<int64_t>& at, std::chrono::steady_clock::time_point now) {
  at.store(nanoseconds_of(now.time_since_epoch()), std::memory_order_relaxed);
}

pool::decide::Duration since(const std::atomic<int64_t>& at,
                             std::chrono::steady_clock::time_point now) {
  return std::chrono::duration_cast<pool::decide::Duration>(
      now.time_since_epoch() - std::chrono::nanoseconds(at.load(std::memory_order_relaxed)));
}
}  // namespace

void TenantState::note_long_statement(std::chrono::steady_clock::time_point now) {
  stamp(long_statement_ns, now);
}

bool TenantState::may_pipeline(std::chrono::steady_clock::time_point now) const {
  return pool::decide::pipelining_after_long_statement(since(long_statement_ns, now));
}

void TenantState::note_turn(std::chrono::steady_clock::duration took,
                            std::chrono::steady_clock::time_point now) {
  // Workers race on the average harmlessly (an update may be lost).
  auto average = std::chrono::nanoseconds(turn_average_ns.load(std::memory_order_relaxed));
  turn_average_ns.store(nanoseconds_of(pool::decide::next_turn_average(average, took)),
                        std::memory_order_relaxed);
  stamp(turn_measured_ns, now);
}

bool TenantState::quick_statements(std::chrono::steady_clock::time_point now) const {
  return pool::decide::quick_statements(
      std::chrono::nanoseconds(turn_average_ns.load(std::memory_order_relaxed)),
      since(turn_measured_ns, now));
}

void TenantRegistry::reconfigure(const Runtime& runtime) {
  std::lock_guard lock(mu_);
  for (auto it = tenants_.begin(); it != tenants_.end();) {
    auto& [tenant, state] = *it;
    auto routed = routing::route_tenant(tenant, *runtime.config, *runtime.directory);
    if (auto* route = std::get_if<routing::Route>(&routed)) {
      state->configure(tenant_limits(route->placement, *route->tier));
      state->retired = false;
      ++it;
    } else {
      // Gone from the directory: connected sessions keep their state object until they leave.
      // Its counts so far stay in /metrics, summed under tenant="_other" of its tier.
      state->retired = true;
      retired_by_tier_[state->tier()] += state->counts();
      tenants_.erase(it++);
    }
  }
}

std::vector<std::shared_ptr<TenantState>> TenantRegistry::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<TenantState>> out;
  out.reserve(tenants_.size());
  for (const auto& [tenant, state] : tenants_) out.push_back(state);
  return out;
}

TenantRegistry::MetricsView TenantRegistry::metrics_view() const {
  MetricsView view;
  std::lock_guard lock(mu_);
  view.states.reserve(tenants_.size());
  for (const auto& [tenant, state] : tenants_) view.states.push_back(state);
  view.retired_by_tier = retired_by_tier_;
  return view;
}

std::shared_ptr<TenantState> TenantRegistry::find(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : it->second;
}

}  // namespace shardgate::proxy
