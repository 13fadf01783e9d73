// GET /metrics on metrics.listen (prometheus-cpp's Exposer, its own HTTP threads). Everything
// is read at scrape time, on the scrape thread: tenant counters from the TenantRegistry's
// atomics (the per-query path never touches a metrics registry or its lock), pool state by
// asking each worker (collect_worker_snapshot), the rest from the current runtime.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/metrics/admin_command_counts.h"
#include "proxy/runtime/runtime.h"
#include "proxy/tenants/tenant_registry.h"

namespace prometheus {
class Exposer;
}

namespace shardgate::proxy {

struct Worker;
class MetricsCollector;

// What /metrics reads; owned by the Proxy, which outlives the endpoint.
struct MetricsSources {
  RuntimeHolder& runtime;
  TenantRegistry& tenants;
  const std::vector<std::unique_ptr<Worker>>& workers;
  const AdminCommandCounts& admin_counts;
  const std::atomic<int>& client_sessions;  // every open client connection
};

class MetricsEndpoint {
 public:
  // Serves /metrics on `listen`; null (after logging why) when it cannot listen there.
  static std::unique_ptr<MetricsEndpoint> start(const config::Endpoint& listen,
                                                MetricsSources sources);
  ~MetricsEndpoint();

  uint16_t port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
  std::string wake_host_;  // where to connect to wake the listener at shutdown
};

}  // namespace shardgate::proxy
