// The shard directory: tenant -> placement. An immutable snapshot with O(1) lookups;
// a change builds a new snapshot and swaps it in.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "config/config.h"

namespace shardgate::routing {

struct Placement {
  std::string shard;
  std::string schema;  // resolved: entry's schema or schema_template
  std::string tier;
  config::Isolation isolation = config::Isolation::kSchema;
  std::string database;  // isolation database: the tenant's own database on the shard
  // Per-tenant overrides of the tier (directory entry keys `rate`, `max_client_connections`).
  std::optional<config::RateConfig> rate;
  std::optional<int> max_client_connections;
};

class Directory {
 public:
  const Placement* find(std::string_view tenant) const;
  size_t size() const { return tenants_.size(); }
  const absl::flat_hash_map<std::string, Placement>& tenants() const { return tenants_; }
  void put(std::string tenant, Placement p) {
    tenants_.insert_or_assign(std::move(tenant), std::move(p));
  }
  bool erase(std::string_view tenant) {
    // Debian's abseil has its own absl::string_view (not std::string_view): convert.
    return tenants_.erase(absl::string_view(tenant.data(), tenant.size())) > 0;
  }

  // Draining shards (DRAIN SHARD) get no new tenants. Kept in the directory file so the flag
  // is exactly as durable as the placements it protects.
  bool draining(std::string_view shard) const { return draining_.contains(std::string(shard)); }
  const std::set<std::string>& draining_shards() const { return draining_; }
  void set_draining(const std::string& shard, bool on) {
    if (on)
      draining_.insert(shard);
    else
      draining_.erase(shard);
  }

 private:
  absl::flat_hash_map<std::string, Placement> tenants_;
  std::set<std::string> draining_;
};

using DirectoryPtr = std::shared_ptr<const Directory>;

// "tenant_{tenant}" with {tenant} replaced.
std::string expand_template(std::string_view tmpl, std::string_view tenant);
// The inverse: the valid tenant id whose schema `schema` is under `tmpl`, if any. Only for
// templates with exactly one {tenant}; names of moved data (`__moved_`) are no tenant's.
std::optional<std::string> tenant_from_schema(std::string_view tmpl, std::string_view schema);

// Parses the directory YAML (docs/configuration.md, "The directory file"), validating every
// entry against the config: tenant IDs, known shards and tiers. Errors name file, line and key.
absl::StatusOr<Directory> parse_directory(const std::string& yaml_text,
                                          const std::string& source_name,
                                          const config::Config& config);
// A missing file is an empty directory; a present but bad file is an error.
absl::StatusOr<Directory> load_directory_file(const std::string& path,
                                              const config::Config& config);
// Serializes in the same format parse_directory reads (entries sorted by tenant).
std::string format_directory(const Directory& d, const config::Config& config);

// `shardgate --check-config FILE`: loads the config and then its directory file (when
// directory.file is set); returns the first error, OK when both are valid.
absl::Status check_config_and_directory(const std::string& config_path);

}  // namespace shardgate::routing
