// Which pool serves a routed tenant, and with what settings: pure derivation from the
// route and the config. Tier `pool: shared` -> one pool per (shard, tier); `pool: dedicated`
// or `login: tenant` -> one pool per tenant.
#pragma once

#include <string>

#include "pool/server_connection.h"
#include "pool/server_pool.h"
#include "routing/route.h"

namespace shardgate::proxy {

struct PoolSpec {
  std::string key;  // unique pool name, e.g. "s1/pro" or "s1/enterprise/acme"
  pool::PoolSettings settings;
  pool::ConnectTarget target;
};

PoolSpec pool_spec(const routing::Route& route, const config::Config& config);

// The worker that owns a pool (stable for a given key and worker count).
int pool_owner(const std::string& key, int workers);

}  // namespace shardgate::proxy
