#include "proxy/tenant_registry.h"

#include "proxy/runtime.h"
#include "routing/route.h"

namespace shardgate::proxy {

TenantLimits tenant_limits(const routing::Placement& placement, const config::TierConfig& tier) {
  TenantLimits limits;
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

void TenantRegistry::reconfigure(const Runtime& runtime) {
  std::lock_guard lock(mu_);
  for (auto& [tenant, state] : tenants_) {
    auto routed = routing::route_tenant(tenant, *runtime.config, *runtime.directory);
    if (auto* route = std::get_if<routing::Route>(&routed))
      state->configure(tenant_limits(route->placement, *route->tier));
  }
}

}  // namespace shardgate::proxy
