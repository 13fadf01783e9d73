// Live per-tenant state shared by all workers: the rate limiter and the client-connection
// count. Looked up under a lock only when a session picks up a tenant; the per-query path
// touches the tenant's own bucket only.
#pragma once

#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "config/config.h"
#include "pool/latency_histogram.h"
#include "routing/directory.h"
#include "routing/limits/token_bucket.h"

namespace shardgate::proxy {

struct Runtime;

struct TenantLimits {
  std::string tier;
  config::RateConfig rate;
  std::optional<int> max_client_connections;
};

// The tenant's effective limits: the directory entry's overrides, else its tier's.
TenantLimits tenant_limits(const routing::Placement& placement, const config::TierConfig& tier);

// A tenant's counters at one moment (or the sum over several tenants), for /metrics.
struct TenantCounts {
  uint64_t queries = 0;
  uint64_t rate_limited = 0;
  pool::LatencyHistogram::Snapshot latency;
  std::map<std::string, uint64_t> errors;  // by SQLSTATE class

  TenantCounts& operator+=(const TenantCounts& other);
  // Counts since `baseline` (never below zero).
  TenantCounts& operator-=(const TenantCounts& baseline);
};

struct TenantState {
  explicit TenantState(std::string id) : tenant(std::move(id)) {}
  const std::string tenant;
  routing::TokenBucket bucket;
  std::atomic<int> clients{0};
  std::atomic<int> max_clients{0};  // 0 = unlimited
  std::atomic<double> queries_per_second{0};
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> rate_limited{0};
  // Sessions of this tenant inside a transaction or request right now (PAUSE waits for 0).
  std::atomic<int> in_flight{0};
  // Time from a request reaching the server to its ReadyForQuery.
  pool::LatencyHistogram latency;
  // Set when the tenant leaves the directory: its series disappear from /metrics.
  std::atomic<bool> retired{false};
  // When a statement of the tenant last took pool::decide::kLongStatement or more (steady
  // clock, nanoseconds): pipelining stays off for the tenant for a while after.
  std::atomic<int64_t> long_statement_ns{std::numeric_limits<int64_t>::min() / 2};
  // Requests that queued on a busy connection: the average time from their turn to their
  // ReadyForQuery (nanoseconds, moving average) and when it was last measured (steady clock).
  std::atomic<int64_t> turn_average_ns{0};
  std::atomic<int64_t> turn_measured_ns{std::numeric_limits<int64_t>::min() / 2};

  void configure(const TenantLimits& limits);
  // One query message (or Execute) against the tenant's rate: counted, and a token taken
  // from its bucket; a refusal is counted as rate limited.
  routing::TokenBucket::Decision take_query();
  // Counts an ErrorResponse the tenant's client received, by SQLSTATE class ("42", "53", ...).
  void count_error(std::string_view sqlstate);
  std::vector<std::pair<std::string, uint64_t>> errors_by_class() const;
  void note_long_statement(std::chrono::steady_clock::time_point now);
  // May the tenant's requests queue behind one another on a busy server connection?
  bool may_pipeline(std::chrono::steady_clock::time_point now) const;
  // A queued request's time from its turn on the connection to its ReadyForQuery.
  void note_turn(std::chrono::steady_clock::duration took,
                 std::chrono::steady_clock::time_point now);
  // May the tenant's requests queue on busy connections before the pool is full?
  // (pool::decide::quick_statements)
  bool quick_statements(std::chrono::steady_clock::time_point now) const;
  // The tier the tenant was last routed under.
  std::string tier() const;
  TenantCounts counts() const;

 private:
  mutable std::mutex errors_mu_;
  absl::flat_hash_map<std::string, uint64_t> errors_;
  std::string tier_;  // under errors_mu_
};

class TenantRegistry {
 public:
  // The tenant's state, created on first use and (re)configured with `limits`.
  std::shared_ptr<TenantState> get(const std::string& tenant, const TenantLimits& limits);
  // Re-applies limits after a reload, for every tenant that has state.
  void reconfigure(const Runtime& runtime);
  // Every tenant with state, for SHOW TENANTS and /metrics.
  std::vector<std::shared_ptr<TenantState>> snapshot() const;
  // The tenant's state if it has any.
  std::shared_ptr<TenantState> find(const std::string& tenant) const;

  // For /metrics: every tenant with state and, taken under the same lock, the final counts of
  // tenants that left the directory, summed by the tier they had.
  struct MetricsView {
    std::vector<std::shared_ptr<TenantState>> states;
    std::map<std::string, TenantCounts> retired_by_tier;
  };
  MetricsView metrics_view() const;

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<TenantState>> tenants_;
  std::map<std::string, TenantCounts> retired_by_tier_;
};

}  // namespace shardgate::proxy
