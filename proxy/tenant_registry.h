// Live per-tenant state shared by all workers: the rate limiter and the client-connection
// count. Looked up under a lock only when a session picks up a tenant; the per-query path
// touches the tenant's own bucket only.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "config/config.h"
#include "proxy/latency_histogram.h"
#include "routing/directory.h"
#include "routing/token_bucket.h"

namespace shardgate::proxy {

struct Runtime;

struct TenantLimits {
  config::RateConfig rate;
  std::optional<int> max_client_connections;
};

// The tenant's effective limits: the directory entry's overrides, else its tier's.
TenantLimits tenant_limits(const routing::Placement& placement, const config::TierConfig& tier);

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
  LatencyHistogram latency;
  // Set when the tenant leaves the directory: its series disappear from /metrics.
  std::atomic<bool> retired{false};

  void configure(const TenantLimits& limits);
  // Counts an ErrorResponse the tenant's client received, by SQLSTATE class ("42", "53", ...).
  void count_error(std::string_view sqlstate);
  std::vector<std::pair<std::string, uint64_t>> errors_by_class() const;

 private:
  mutable std::mutex errors_mu_;
  absl::flat_hash_map<std::string, uint64_t> errors_;
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

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<TenantState>> tenants_;
};

}  // namespace shardgate::proxy
