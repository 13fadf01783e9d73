#include "proxy/tenants/pool_spec.h"

#include "absl/status/statusor.h"

namespace shardgate::proxy {

PoolSpec pool_spec(const routing::Route& route, const config::Config& config) {
  const config::TierConfig& tier = *route.tier;
  const config::ShardConfig& shard = *route.shard;
  bool per_tenant =
      tier.pool == config::PoolKind::kDedicated || tier.login == config::Login::kTenant;
  PoolSpec spec;
  spec.key = shard.name + "/" + tier.name;
  if (per_tenant) spec.key += "/" + route.tenant;
  bool own_database = route.placement.isolation == config::Isolation::kDatabase &&
                      !route.placement.database.empty();
  if (own_database && !per_tenant) spec.key += "/db:" + route.placement.database;

  spec.settings.name = spec.key;
  spec.settings.shard = shard.name;
  spec.settings.size = tier.pool_size > 0 ? tier.pool_size : 1;
  spec.settings.min_size = tier.min_pool_size;
  spec.settings.per_tenant_cap = per_tenant ? std::nullopt : tier.max_server_connections_per_tenant;
  spec.settings.pipeline_depth =
      tier.pool_mode == config::PoolMode::kTransaction ? tier.pipeline_depth : 1;
  spec.settings.connect_timeout = config.connect_timeout;
  spec.settings.idle_timeout = tier.server_idle_timeout;
  spec.settings.lifetime = tier.server_lifetime;
  if (tier.pool_mode == config::PoolMode::kTransaction)
    spec.settings.trust_recent = std::chrono::milliseconds(100);

  spec.target.shard = shard.name;
  spec.target.host = shard.host;
  spec.target.port = shard.port;
  spec.target.user = shard.user;
  spec.target.password = shard.password;
  spec.target.database = own_database ? route.placement.database : shard.dbname;
  spec.target.keepalive = keepalive_for(config);
  if (tier.login == config::Login::kTenant) {
    spec.target.user =
        routing::expand_template(tier.role.empty() ? "{tenant}" : tier.role, route.tenant);
    auto secret =
        config::resolve_secret(routing::expand_template(tier.login_password, route.tenant),
                               "tiers." + tier.name + ".login_password");
    spec.target.password = secret.ok() ? *secret : "";
  }
  return spec;
}

pool::KeepAlive keepalive_for(const config::Config& config) {
  const auto& k = config.tcp_keepalive;
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  return {k.enabled, duration_cast<seconds>(k.idle), duration_cast<seconds>(k.interval), k.count};
}

int pool_owner(const std::string& key, int workers) {
  if (workers <= 1) return 0;
  return static_cast<int>(routing::stable_hash(key) % static_cast<uint64_t>(workers));
}

}  // namespace shardgate::proxy
