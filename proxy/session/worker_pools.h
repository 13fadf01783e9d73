// The server pools a worker owns: the one place a pool is found or created for a spec, by a
// session routing a client or by a move opening the tenant's pool on its new shard.
#pragma once

#include <string>

#include "pool/asio.h"
#include "pool/server_pool.h"
#include "proxy/session/worker.h"
#include "proxy/tenants/pool_spec.h"

namespace shardgate::proxy {

// The worker's pool for `spec`, created on first use; a pool whose settings or target a
// reload changed is updated (new connections follow, old ones retire).
pool::ServerPool& worker_pool(Worker& worker, const PoolSpec& spec);

// Makes sure the pool holds a live connection for `tenant`: checks one out (opening it when
// none is idle) and returns it to the pool; then opens more in the background until the pool
// holds `warm` (a moved tenant's clients, all resumed at once). Run on the worker's thread.
awaitable<pool::ServerResult> open_pool(Worker& worker, const PoolSpec& spec,
                                        const std::string& tenant, int weight, pool::Millis timeout,
                                        int warm);

}  // namespace shardgate::proxy
