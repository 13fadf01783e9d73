// Pins the tenants default_placement's hash placed, before DRAIN/UNDRAIN SHARD changes where
// that hash sends tenants (routing/shard_choice.h): a tenant the hash placed has no directory
// entry, so without a pin it would be sent to a shard that does not hold its schema.
#include "proxy/admin/commands.h"
#include "proxy/moves/pg_link.h"
#include "routing/route.h"

namespace shardgate::proxy {

std::optional<AdminReply> pin_hashed_tenants(const RuntimePtr& rt, routing::Directory& next) {
  const config::Config& config = *rt->config;
  const auto& placement = config.directory.default_placement;
  if (placement.reject || placement.hash_shards.empty()) return std::nullopt;
  for (const auto& shard_name : placement.hash_shards) {
    const config::ShardConfig* shard = config.find_shard(shard_name);
    if (!shard) continue;
    auto link =
        moves::PgLink::open(*shard, moves::PgLink::Credential::kControl, config.connect_timeout);
    // Never a tenant's: PostgreSQL's own schemas, public, and a move's marker schemas.
    auto rows = link.ok()
                    ? link->rows(
                          "SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|sg_move_)' "
                          "AND nspname NOT IN ('public', 'information_schema')")
                    : absl::StatusOr<std::vector<moves::Row>>(link.status());
    if (!rows.ok())
      return AdminReply::error(
          "08006",
          "could not list the schemas of shard \"" + shard_name +
              "\" to pin the tenants default_placement placed there: " +
              std::string(rows.status().message()),
          "Draining changes where default_placement hashes tenants, so shardgate first pins "
          "the ones it finds; make the shard reachable and retry. Nothing was changed.");
    for (const auto& row : *rows) {
      if (row.empty() || !row[0]) continue;
      auto tenant = routing::tenant_from_schema(config.tenant.schema_template, *row[0]);
      if (!tenant || next.find(*tenant)) continue;
      auto route = routing::route_tenant(*tenant, config, *rt->directory);
      auto* routed = std::get_if<routing::Route>(&route);
      if (!routed || routed->placement.shard != shard_name ||
          routed->placement.isolation != config::Isolation::kSchema)
        continue;
      next.put(*tenant, routed->placement);
    }
  }
  return std::nullopt;
}

}  // namespace shardgate::proxy
