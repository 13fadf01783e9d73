#include "proxy/server/fd_budget.h"

#include <sys/resource.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "proxy/tenants/pool_spec.h"

namespace shardgate::proxy {

namespace {

// Descriptors one Asio event loop holds: epoll, its interrupter (eventfd) and a timerfd.
constexpr uint64_t kPerEventLoop = 3;
// Event loops besides the workers': main (signals), admin, metrics, the control pool.
constexpr uint64_t kOtherEventLoops = 4;
// stdin/stdout/stderr, the signal pipe (two ends), the audit log, config and directory files
// read at a reload.
constexpr uint64_t kFiles = 3 + 2 + 1 + 2;
// Admin sessions and metrics scrapes served at once.
constexpr uint64_t kAdminConnections = 16;
// Cancel requests forwarded to servers, connections being replaced, resolver sockets.
constexpr uint64_t kMargin = 32;

uint64_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t v = 0;
  if (in >> v && v > 0) return v;
  return 1048576;  // the kernel's default
}

}  // namespace

uint64_t open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return rl.rlim_cur == RLIM_INFINITY ? nr_open() : rl.rlim_cur;
}

FdLimit raise_open_file_limit() {
  FdLimit out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.before = out.soft = rl.rlim_cur == RLIM_INFINITY ? nr_open() : rl.rlim_cur;
  // Linux never allows more than fs.nr_open descriptors, whatever the hard limit says.
  out.hard = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
  if (out.soft >= out.hard) return out;
  rl.rlim_cur = out.hard;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.soft = out.hard;
  return out;
}

FdBudget fd_budget(const config::Config& config, const routing::Directory& directory, int workers,
                   uint64_t open_files) {
  FdBudget b;
  b.open_files = open_files;
  // Every pool the directory's tenants route to, at its full size (a pool never opens more).
  absl::flat_hash_map<std::string, int> pools;
  for (const auto& [tenant, placement] : directory.tenants()) {
    auto routed = routing::route_tenant(tenant, config, directory);
    if (auto* route = std::get_if<routing::Route>(&routed)) {
      auto spec = pool_spec(*route, config);
      pools.emplace(spec.key, spec.settings.size);
    }
  }
  // Tenants placed by default_placement: hash share the default tier's pool on each shard
  // (a dedicated default tier opens pools for tenants not known in advance: not counted).
  const auto& dp = config.directory.default_placement;
  if (!dp.reject) {
    const config::TierConfig* tier = config.find_tier(dp.tier.empty() ? "default" : dp.tier);
    if (tier && tier->pool == config::PoolKind::kShared && tier->login == config::Login::kProxy)
      for (const auto& shard : dp.hash_shards)
        pools.emplace(shard + "/" + tier->name, tier->pool_size > 0 ? tier->pool_size : 1);
  }
  for (const auto& [key, size] : pools) b.server_connections += static_cast<uint64_t>(size);

  uint64_t loops = static_cast<uint64_t>(workers) + kOtherEventLoops;
  uint64_t listeners = static_cast<uint64_t>(workers) + 1 /* admin socket */ +
                       (config.admin.listen ? 1 : 0) + (config.metrics.listen ? 1 : 0);
  b.process = loops * kPerEventLoop + listeners + kFiles + kAdminConnections + kMargin;
  uint64_t reserved = b.server_connections + b.process;
  uint64_t left = open_files > reserved ? open_files - reserved : 0;
  b.clients = left > static_cast<uint64_t>(INT_MAX) ? INT_MAX : static_cast<int>(left);
  return b;
}

}  // namespace shardgate::proxy
