// CREATE TENANT / DROP TENANT on the shard: the provisioning.schema_sql template (and the
// tenant's role where its tier uses one) in one transaction, over libpq. Blocking: runs on the
// control-plane thread, never on a worker.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::proxy {

// "{schema}" and "{role}" become quoted identifiers, "{tenant}" a quoted literal.
std::string expand_provisioning_sql(const std::string& tmpl, const std::string& tenant,
                                    const std::string& schema, const std::string& role);

// The role a tier's tenants use on the server ("" when the tier has none).
std::string tenant_role(const config::TierConfig& tier, const std::string& tenant);

// Creates the tenant's schema (and role) on its shard: all or nothing.
absl::Status provision_tenant(const config::Config& config, const config::ShardConfig& shard,
                              const config::TierConfig& tier, const std::string& tenant,
                              const routing::Placement& placement);
// Drops the tenant's schema (and role): all or nothing.
absl::Status drop_tenant_data(const config::Config& config, const config::ShardConfig& shard,
                              const config::TierConfig& tier, const std::string& tenant,
                              const routing::Placement& placement);

}  // namespace shardgate::proxy
