// CREATE / DROP / ALTER TENANT: the shard first or the directory first, whichever order
// leaves nothing half done when the second step fails; every change rewrites the directory
// file atomically and swaps the running directory. Runs on the control-plane thread.
#include <variant>

#include "proxy/admin/commands.h"
#include "proxy/admin/directory_store.h"
#include "proxy/tenants/provisioning.h"
#include "routing/shard_choice.h"

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;
using routing::AdminVerb;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::optional<AdminReply> need_directory_file(const RuntimePtr& rt) {
  if (!rt->config->directory.file.empty()) return std::nullopt;
  return AdminReply::error("55000", "the directory is not kept in a file",
                           "Set directory.file in the config so tenant changes are durable.");
}

// The tenant's directory entry, or why DROP/ALTER cannot change it (no directory file,
// unknown tenant).
std::variant<routing::Placement, AdminReply> existing_entry(const RuntimePtr& rt,
                                                            const std::string& tenant) {
  if (auto e = need_directory_file(rt)) return *e;
  const routing::Placement* found = rt->directory->find(tenant);
  if (!found)
    return AdminReply::error("3D000", "tenant " + quoted(tenant) + " is not in the directory");
  return *found;
}

// The tier of a new tenant without TIER: default_placement's tier, else the only tier, else
// a tier named "default".
std::string default_tier(const config::Config& c) {
  if (!c.directory.default_placement.tier.empty()) return c.directory.default_placement.tier;
  if (c.tiers.size() == 1) return c.tiers.begin()->first;
  return c.tiers.contains("default") ? "default" : "";
}

}  // namespace

// Writes the directory file and swaps the running directory; the error when the write failed
// (nothing changed then).
std::optional<AdminReply> commit_directory(AdminContext& ctx, const RuntimePtr& rt,
                                           routing::Directory next) {
  const std::string& file = rt->config->directory.file;
  auto written = write_file_atomically(file, routing::format_directory(next, *rt->config));
  if (!written.ok())
    return AdminReply::error(
        "58030", "could not write the directory file: " + std::string(written.message()),
        "Check that shardgate may write " + file + ".");
  auto updated = make_runtime(*rt->config, std::move(next), rt->tls);
  ctx.runtime.set(updated);
  ctx.tenants.reconfigure(*updated);
  return std::nullopt;
}

AdminReply create_tenant(AdminContext& ctx, const AdminCommand& cmd) {
  auto rt = ctx.runtime.get();
  const config::Config& config = *rt->config;
  if (auto e = need_directory_file(rt)) return *e;
  if (!config::valid_tenant_id(cmd.name))
    return AdminReply::error("22023", "invalid tenant id " + quoted(cmd.name),
                             "Tenant ids are 1-63 characters of letters, digits, _ and -.");
  if (rt->directory->find(cmd.name))
    return AdminReply::error("42710", "tenant " + quoted(cmd.name) + " already exists",
                             "DROP TENANT it first, or pick another id.");
  std::string shard_name =
      cmd.shard ? *cmd.shard : routing::least_loaded_shard(config, *rt->directory);
  if (shard_name.empty())
    return AdminReply::error("55000", "every shard is draining: no shard takes new tenants",
                             "UNDRAIN SHARD s for one of them, or add a shard and RELOAD.");
  const config::ShardConfig* shard = config.find_shard(shard_name);
  if (!shard)
    return AdminReply::error("42704", "no shard named " + quoted(shard_name),
                             "SHOW SHARDS lists the shards.");
  if (rt->directory->draining(shard_name))
    return AdminReply::error(
        "55000", "shard " + quoted(shard_name) + " is draining: it takes no new tenants",
        "Leave out ON SHARD to place the tenant on the least-loaded shard, "
        "or UNDRAIN SHARD " +
            shard_name + " first.");
  std::string tier_name = cmd.tier ? *cmd.tier : default_tier(config);
  const config::TierConfig* tier = config.find_tier(tier_name);
  if (!tier)
    return AdminReply::error("42704",
                             tier_name.empty() ? std::string("no default tier: name one with TIER")
                                               : "no tier named " + quoted(tier_name),
                             "SHOW CONFIG lists the tiers.");
  if (tier->isolation == config::Isolation::kDatabase)
    return AdminReply::error(
        "0A000", "tier " + quoted(tier_name) + " gives each tenant its own database",
        "Create the database on the shard yourself, then add the tenant to the directory file "
        "and RELOAD.");
  routing::Placement placement;
  placement.shard = shard_name;
  placement.tier = tier_name;
  placement.isolation = tier->isolation;
  placement.schema =
      cmd.schema ? *cmd.schema : routing::expand_template(config.tenant.schema_template, cmd.name);
  if (placement.schema.empty() || placement.schema.size() > 63)
    return AdminReply::error("22023", "invalid schema name " + quoted(placement.schema));

  // 1. The shard, in one transaction: on failure nothing exists there and nothing changed here.
  if (tier->isolation != config::Isolation::kShared) {
    auto provisioned = provision_tenant(config, *shard, *tier, cmd.name, placement);
    if (!provisioned.ok())
      return AdminReply::error(
          "58000",
          "could not provision tenant " + quoted(cmd.name) + " " +
              std::string(provisioned.message()),
          "Nothing was created; fix the cause (provisioning.schema_sql, shard access) and retry.");
  }
  // 2. The directory. If it cannot be written, take the schema back out.
  routing::Directory next = *rt->directory;
  next.put(cmd.name, placement);
  if (auto failed = commit_directory(ctx, rt, std::move(next))) {
    if (tier->isolation != config::Isolation::kShared)
      (void)drop_tenant_data(config, *shard, *tier, cmd.name, placement);
    return *failed;
  }
  return AdminReply::done("CREATE TENANT");
}

AdminReply drop_tenant(AdminContext& ctx, const AdminCommand& cmd) {
  auto rt = ctx.runtime.get();
  const config::Config& config = *rt->config;
  auto entry = existing_entry(rt, cmd.name);
  if (auto* refused = std::get_if<AdminReply>(&entry)) return *refused;
  routing::Placement placement = std::get<routing::Placement>(std::move(entry));
  // 1. The directory: from now on the tenant's sessions get 3D000 at their next transaction.
  routing::Directory next = *rt->directory;
  next.erase(cmd.name);
  if (auto failed = commit_directory(ctx, rt, std::move(next))) return *failed;
  if (cmd.keep_data || placement.isolation != config::Isolation::kSchema)
    return AdminReply::done("DROP TENANT");
  // 2. The data. If it cannot be dropped, the entry goes back: things stay as they were.
  const config::ShardConfig* shard = config.find_shard(placement.shard);
  const config::TierConfig* tier = config.find_tier(placement.tier);
  absl::Status dropped = absl::OkStatus();
  if (shard && tier) dropped = drop_tenant_data(config, *shard, *tier, cmd.name, placement);
  if (!dropped.ok()) {
    auto now = ctx.runtime.get();
    routing::Directory restore = *now->directory;
    restore.put(cmd.name, placement);
    auto restored = commit_directory(ctx, now, std::move(restore));
    return AdminReply::error(
        "58000",
        "could not drop the data of tenant " + quoted(cmd.name) + " " +
            std::string(dropped.message()) +
            (restored ? "; the directory entry could not be restored either" : ""),
        restored ? "The tenant is out of the directory but its schema is still on the shard."
                 : "The tenant is still in the directory, unchanged. Retry, or DROP TENANT ... "
                   "KEEP DATA.");
  }
  return AdminReply::done("DROP TENANT");
}

AdminReply alter_tenant(AdminContext& ctx, const AdminCommand& cmd) {
  auto rt = ctx.runtime.get();
  const config::Config& config = *rt->config;
  auto entry = existing_entry(rt, cmd.name);
  if (auto* refused = std::get_if<AdminReply>(&entry)) return *refused;
  routing::Placement placement = std::get<routing::Placement>(std::move(entry));
  const config::TierConfig* tier = config.find_tier(placement.tier);
  switch (cmd.verb) {
    case AdminVerb::kAlterTenantTier: {
      const config::TierConfig* next_tier = config.find_tier(*cmd.tier);
      if (!next_tier)
        return AdminReply::error("42704", "no tier named " + quoted(*cmd.tier),
                                 "SHOW CONFIG lists the tiers.");
      if (next_tier->isolation != placement.isolation)
        return AdminReply::error(
            "0A000",
            "tier " + quoted(*cmd.tier) + " isolates tenants differently from tier " +
                quoted(placement.tier),
            "Moving between isolation kinds needs a data migration; pick a tier with the same "
            "isolation.");
      placement.tier = *cmd.tier;
      break;
    }
    case AdminVerb::kAlterTenantRate: {
      config::RateConfig rate =
          placement.rate ? *placement.rate : (tier ? tier->rate : config::RateConfig{});
      rate.queries_per_second = cmd.number;
      rate.burst = cmd.number;
      placement.rate = rate;
      break;
    }
    case AdminVerb::kAlterTenantMaxClients:
      if (cmd.number == 0)
        placement.max_client_connections.reset();
      else
        placement.max_client_connections = static_cast<int>(cmd.number);
      break;
    default:
      return AdminReply::error("0A000", "not an ALTER TENANT command");
  }
  routing::Directory next = *rt->directory;
  next.put(cmd.name, placement);
  if (auto failed = commit_directory(ctx, rt, std::move(next))) return *failed;
  return AdminReply::done("ALTER TENANT");
}

}  // namespace shardgate::proxy
