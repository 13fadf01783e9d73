#include "proxy/metrics/endpoint.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "proxy/metrics/families.h"
#include "proxy/metrics/tenant_series.h"
#include "proxy/metrics/worker_stats.h"
#include "proxy/runtime/log.h"
#include "proxy/session/worker.h"

namespace shardgate::proxy {

namespace {

using Clock = std::chrono::steady_clock;

// A pool's connect outcome counts as the shard's state for this long; after that, live
// connections (checked every second by the pool) or a probe decide.
constexpr auto kEvidenceFresh = std::chrono::seconds(10);
constexpr auto kProbeTimeout = std::chrono::milliseconds(500);
constexpr auto kProbeCache = std::chrono::seconds(5);
constexpr auto kWorkerTimeout = std::chrono::milliseconds(500);

// Whether a TCP connection to host:port opens within `timeout` (closed at once, no bytes sent:
// PostgreSQL does not log such a connection).
bool tcp_reachable(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  bool ok = false;
  for (addrinfo* a = found; a && !ok; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return ok;
}

}  // namespace

class MetricsCollector : public prometheus::Collectable {
 public:
  explicit MetricsCollector(MetricsSources sources) : sources_(sources) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);  // scrapes may come on several HTTP threads
    std::vector<prometheus::MetricFamily> out;
    auto rt = sources_.runtime.get();
    const config::Config& config = *rt->config;

    auto view = sources_.tenants.metrics_view();
    std::vector<TenantSample> samples;
    samples.reserve(view.states.size());
    std::map<std::string, int64_t> clients;
    for (const auto& [name, tier] : config.tiers) clients[name] = 0;
    int64_t with_tenant = 0;
    for (const auto& state : view.states) {
      std::string tier = state->tier();
      const config::TierConfig* tier_config = config.find_tier(tier);
      int n = state->clients.load(std::memory_order_relaxed);
      if (n > 0) {
        clients[tier] += n;
        with_tenant += n;
      }
      samples.push_back({state, state->tenant, tier,
                         tier_config ? tier_config->tenant_series : config::TenantSeries::kAuto,
                         state->counts()});
    }
    int64_t all = sources_.client_sessions.load(std::memory_order_relaxed);
    clients["_none"] = all > with_tenant ? all - with_tenant : 0;
    auto cap = static_cast<size_t>(std::max(0, config.metrics.per_tenant_series));
    auto rows = selector_.select(std::move(samples), view.retired_by_tier, cap);

    add_client_family(clients, out);
    add_tenant_families(rows, out);
    auto workers = collect_worker_snapshot(sources_.workers, kWorkerTimeout, false);
    add_pool_families(workers.pools, out);
    add_shard_family(shard_states(config, workers.pools), out);
    add_directory_family(rt->directory->size(), out);
    add_admin_family(sources_.admin_counts.snapshot(), out);
    return out;
  }

 private:
  // shardgate_shard_up: a connect attempt by one of the shard's pools in the last 10 s decides
  // (the latest one); else live server connections mean up; else a TCP probe (cached 5 s).
  std::map<std::string, bool> shard_states(const config::Config& config,
                                           const std::vector<PoolRow>& pools) const {
    std::map<std::string, bool> up;
    auto now = Clock::now();
    for (const auto& [name, shard] : config.shards) {
      Clock::time_point latest{};
      int outcome = 0;
      bool live = false;
      for (const auto& row : pools) {
        if (row.shard != name) continue;
        live |= row.stats.active + row.stats.idle > 0;
        if (row.stats.last_connect != 0 && row.stats.last_connect_at > latest) {
          latest = row.stats.last_connect_at;
          outcome = row.stats.last_connect;
        }
      }
      if (outcome != 0 && now - latest < kEvidenceFresh) {
        up[name] = outcome > 0;
      } else if (live) {
        up[name] = true;
      } else {
        auto& probe = probes_[name];
        std::string target = shard.host + ":" + std::to_string(shard.port);
        if (probe.target != target || now - probe.at > kProbeCache) {
          probe.target = target;
          probe.up = tcp_reachable(shard.host, shard.port, kProbeTimeout);
          probe.at = Clock::now();
        }
        up[name] = probe.up;
      }
    }
    return up;
  }

  struct Probe {
    std::string target;
    bool up = false;
    Clock::time_point at{};
  };

  MetricsSources sources_;
  mutable std::mutex mu_;
  mutable TenantSeriesSelector selector_;
  mutable std::map<std::string, Probe> probes_;
};

std::unique_ptr<MetricsEndpoint> MetricsEndpoint::start(const config::Endpoint& listen,
                                                        MetricsSources sources) {
  std::string host = listen.host == "*" ? "0.0.0.0" : listen.host;
  bool v6 = host.find(':') != std::string::npos;
  std::string address = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(listen.port);
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "cannot listen for /metrics", nullptr,
              {{"address", address}, {"error", e.what()}});
    return nullptr;
  }
  endpoint->collector_ = std::make_shared<MetricsCollector>(sources);
  endpoint->exposer_->RegisterCollectable(endpoint->collector_);
  auto ports = endpoint->exposer_->GetListeningPorts();
  endpoint->port_ = ports.empty() ? listen.port : static_cast<uint16_t>(ports.front());
  endpoint->wake_host_ = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  log_event(spdlog::level::info, "metrics listening", nullptr,
            {{"address", (v6 ? "[" + host + "]" : host) + ":" + std::to_string(endpoint->port_)},
             {"path", "/metrics"}});
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  // Stop the HTTP threads before the Proxy's state goes: a scrape reads it. civetweb's listener
  // notices the stop only when its poll (2 s) returns; connecting wakes it sooner.
  std::atomic<bool> stopped{false};
  std::thread wake([this, &stopped] {
    while (!stopped.load()) {
      tcp_reachable(wake_host_, port_, std::chrono::milliseconds(100));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer_.reset();
  stopped = true;
  wake.join();
}

}  // namespace shardgate::proxy
