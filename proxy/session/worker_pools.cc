#include "proxy/session/worker_pools.h"

namespace shardgate::proxy {

pool::ServerPool& worker_pool(Worker& worker, const PoolSpec& spec) {
  auto it = worker.pools.find(spec.key);
  if (it == worker.pools.end()) {
    it = worker.pools
             .emplace(spec.key, std::make_unique<pool::ServerPool>(worker.io.get_executor(),
                                                                   spec.settings, spec.target))
             .first;
  } else if (it->second->settings() != spec.settings || it->second->target() != spec.target) {
    // A reload changed the pool (size, timeouts), the shard's address or login, keepalive or
    // the TLS files: new connections follow; the pool retires those to an old address.
    it->second->update(spec.settings, spec.target);
  }
  return *it->second;
}

awaitable<pool::ServerResult> open_pool(Worker& worker, const PoolSpec& spec,
                                        const std::string& tenant, int weight, pool::Millis timeout,
                                        int warm) {
  pool::ServerPool& pool = worker_pool(worker, spec);
  auto lease = co_await pool.acquire(tenant, weight, timeout);
  if (!lease.conn) co_return lease.error;
  pool.release(std::move(lease.conn), tenant);
  pool.warm(warm);
  co_return pool::ServerResult{};
}

}  // namespace shardgate::proxy
