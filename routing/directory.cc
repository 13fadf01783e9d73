#include "routing/directory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "config/yaml_reader.h"

namespace shardgate::routing {

using config::yaml::Reader;

const Placement* Directory::find(std::string_view tenant) const {
  auto it = tenants_.find(absl::string_view(tenant.data(), tenant.size()));
  return it == tenants_.end() ? nullptr : &it->second;
}

std::string expand_template(std::string_view tmpl, std::string_view tenant) {
  constexpr std::string_view kVar = "{tenant}";
  std::string out;
  out.reserve(tmpl.size() + tenant.size());
  size_t pos = 0;
  while (true) {
    size_t hit = tmpl.find(kVar, pos);
    if (hit == std::string_view::npos) break;
    out.append(tmpl.substr(pos, hit - pos));
    out.append(tenant);
    pos = hit + kVar.size();
  }
  out.append(tmpl.substr(pos));
  return out;
}

std::optional<std::string> tenant_from_schema(std::string_view tmpl, std::string_view schema) {
  constexpr std::string_view kVar = "{tenant}";
  size_t at = tmpl.find(kVar);
  if (at == std::string_view::npos || tmpl.find(kVar, at + 1) != std::string_view::npos)
    return std::nullopt;
  std::string_view prefix = tmpl.substr(0, at), suffix = tmpl.substr(at + kVar.size());
  if (schema.size() <= prefix.size() + suffix.size() || !schema.starts_with(prefix) ||
      !schema.ends_with(suffix))
    return std::nullopt;
  std::string_view tenant =
      schema.substr(prefix.size(), schema.size() - prefix.size() - suffix.size());
  if (!config::valid_tenant_id(tenant) || tenant.find("__moved_") != std::string_view::npos)
    return std::nullopt;
  return std::string(tenant);
}

namespace {

constexpr size_t kMaxIdentifier = 63;  // PostgreSQL's NAMEDATALEN - 1: longer names get cut

std::string tier_names(const config::Config& config) {
  std::string out;
  for (const auto& [name, tier] : config.tiers) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// The keys of one directory entry, kept as nodes: most are checked against others.
struct EntryNodes {
  std::optional<YAML::Node> shard, tier, schema, isolation, database, rate, max_client_connections;
};

EntryNodes entry_nodes(const Reader& r, const YAML::Node& v, const std::string& key) {
  EntryNodes n;
  r.for_each(v, key,
             {"shard", "tier", "schema", "isolation", "database", "rate", "max_client_connections"},
             [&](const std::string& k, const YAML::Node& f, const std::string&) {
               auto& slot = k == "shard"       ? n.shard
                            : k == "tier"      ? n.tier
                            : k == "schema"    ? n.schema
                            : k == "isolation" ? n.isolation
                            : k == "database"  ? n.database
                            : k == "rate"      ? n.rate
                                               : n.max_client_connections;
               slot = f;
             });
  return n;
}

// The entry's tier: the one named, or the only one configured.
const config::TierConfig& entry_tier(const Reader& r, const YAML::Node& v, const std::string& key,
                                     const EntryNodes& n, const config::Config& config,
                                     Placement& p) {
  std::string tkey = config::yaml::join(key, "tier");
  if (!n.tier) {
    if (config.tiers.size() != 1)
      r.fail(v, tkey, "missing; the config has several tiers (" + tier_names(config) + ")");
    p.tier = config.tiers.begin()->second.name;
    return config.tiers.begin()->second;
  }
  p.tier = r.non_empty_str(*n.tier, tkey);
  const config::TierConfig* tier = config.find_tier(p.tier);
  if (!tier) {
    r.fail(*n.tier, tkey,
           "tier \"" + Reader::printable(p.tier) +
               "\" is not defined in the config (tiers: " + tier_names(config) + ")");
  }
  return *tier;
}

// isolation: database puts the tenant in a database of its own (named after it by default).
void entry_database(const Reader& r, const std::string& tenant, const std::string& key,
                    const EntryNodes& n, Placement& p) {
  std::string dkey = config::yaml::join(key, "database");
  if (!n.database) {
    if (p.isolation == config::Isolation::kDatabase) p.database = tenant;
    return;
  }
  if (p.isolation != config::Isolation::kDatabase)
    r.fail(*n.database, dkey, "only applies to isolation: database");
  p.database = r.non_empty_str(*n.database, dkey);
  if (p.database.size() > kMaxIdentifier) r.fail(*n.database, dkey, "longer than 63 bytes");
}

void parse_entry(const Reader& r, const std::string& tenant, const YAML::Node& v,
                 const std::string& key, const config::Config& config, Directory& dir) {
  if (!config::valid_tenant_id(tenant)) {
    r.fail(v, key,
           "\"" + Reader::printable(tenant) +
               "\" is not a valid tenant ID (1-63 characters of A-Z, a-z, 0-9, _ and -)");
  }
  if (!v.IsMap()) r.fail(v, key, "expected a mapping { shard: ..., tier: ... }");
  EntryNodes n = entry_nodes(r, v, key);
  auto sub = [&](const char* k) { return config::yaml::join(key, k); };
  Placement p;
  if (!n.shard) r.fail(v, sub("shard"), "missing: which shard does the tenant live on?");
  p.shard = r.non_empty_str(*n.shard, sub("shard"));
  if (!config.find_shard(p.shard)) {
    r.fail(*n.shard, sub("shard"),
           "shard \"" + Reader::printable(p.shard) + "\" is not defined in the config (" +
               config.source_file + ")");
  }
  const config::TierConfig& tier = entry_tier(r, v, key, n, config, p);
  p.schema = n.schema ? r.non_empty_str(*n.schema, sub("schema"))
                      : expand_template(config.tenant.schema_template, tenant);
  if (p.schema.size() > kMaxIdentifier) {
    r.fail(n.schema ? *n.schema : v, sub("schema"),
           "schema \"" + Reader::printable(p.schema) +
               "\" is longer than 63 bytes and PostgreSQL would truncate it; give a shorter "
               "schema");
  }
  p.isolation =
      n.isolation ? config::parse_isolation(r, *n.isolation, sub("isolation")) : tier.isolation;
  entry_database(r, tenant, key, n, p);
  if (n.rate) p.rate = r.rate(*n.rate, sub("rate"), tier.rate);
  if (n.max_client_connections) {
    p.max_client_connections = static_cast<int>(
        r.integer(*n.max_client_connections, sub("max_client_connections"), 1, 1000000));
  }
  dir.put(tenant, std::move(p));
}

// `draining: [s3]`. A shard no longer in the config is dropped rather than refused: removing a
// drained shard from the config is the last step of decommissioning it.
void parse_draining(const Reader& r, const YAML::Node& v, const std::string& key,
                    const config::Config& config, Directory& dir) {
  for (const auto& shard : r.str_list(v, key))
    if (config.find_shard(shard)) dir.set_draining(shard, true);
}

// Shortest decimal text that reads back as the same double.
std::string format_number(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string format_duration(config::Duration d) {
  if (d.count() != 0 && d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

const char* isolation_name(config::Isolation i) {
  switch (i) {
    case config::Isolation::kShared:
      return "shared";
    case config::Isolation::kDatabase:
      return "database";
    case config::Isolation::kSchema:
      break;
  }
  return "schema";
}

}  // namespace

absl::StatusOr<Directory> parse_directory(const std::string& yaml_text,
                                          const std::string& source_name,
                                          const config::Config& config) {
  Reader r(source_name);
  Directory dir;
  absl::Status st = config::yaml::parse_document(yaml_text, r, [&](const YAML::Node& root) {
    if (!root.IsNull() && !root.IsMap()) {
      r.fail(root, "", "the directory must be a mapping with a tenants key");
    }
    r.for_each(root, "", {"tenants", "draining"},
               [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                 if (k == "draining") return parse_draining(r, v, key, config, dir);
                 r.for_each(
                     v, key, {},
                     [&](const std::string& tenant, const YAML::Node& e, const std::string& tkey) {
                       parse_entry(r, tenant, e, tkey, config, dir);
                     });
               });
  });
  if (!st.ok()) return st;
  return dir;
}

absl::StatusOr<Directory> load_directory_file(const std::string& path,
                                              const config::Config& config) {
  auto text = config::yaml::read_file(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return Directory{};
    return text.status();
  }
  return parse_directory(*text, path, config);
}

std::string format_directory(const Directory& d, const config::Config& config) {
  std::vector<const std::pair<const std::string, Placement>*> entries;
  entries.reserve(d.size());
  for (const auto& e : d.tenants()) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });

  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "tenants" << YAML::Value;
  if (entries.empty()) out << YAML::Flow;
  out << YAML::BeginMap;
  for (const auto* e : entries) {
    const std::string& tenant = e->first;
    const Placement& p = e->second;
    const config::TierConfig* tier = config.find_tier(p.tier);
    out << YAML::Key << tenant << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "shard" << YAML::Value << p.shard;
    out << YAML::Key << "tier" << YAML::Value << p.tier;
    if (p.schema != expand_template(config.tenant.schema_template, tenant)) {
      out << YAML::Key << "schema" << YAML::Value << p.schema;
    }
    if (!tier || p.isolation != tier->isolation) {
      out << YAML::Key << "isolation" << YAML::Value << isolation_name(p.isolation);
    }
    if (p.isolation == config::Isolation::kDatabase && p.database != tenant) {
      out << YAML::Key << "database" << YAML::Value << p.database;
    }
    if (p.rate) {
      out << YAML::Key << "rate" << YAML::Value << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "queries_per_second" << YAML::Value
          << format_number(p.rate->queries_per_second);
      out << YAML::Key << "burst" << YAML::Value << format_number(p.rate->burst);
      out << YAML::Key << "action" << YAML::Value
          << (p.rate->action == config::RateAction::kThrottle ? "throttle" : "reject");
      out << YAML::Key << "max_delay" << YAML::Value << format_duration(p.rate->max_delay);
      out << YAML::EndMap;
    }
    if (p.max_client_connections) {
      out << YAML::Key << "max_client_connections" << YAML::Value << *p.max_client_connections;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!d.draining_shards().empty()) {
    out << YAML::Key << "draining" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& shard : d.draining_shards()) out << shard;
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return "# shardgate shard directory: tenant -> placement (written by shardgate)\n" +
         std::string(out.c_str()) + "\n";
}

absl::Status check_config_and_directory(const std::string& config_path) {
  auto config = config::load_config_file(config_path);
  if (!config.ok()) return config.status();
  if (config->directory.file.empty()) return absl::OkStatus();
  auto dir = load_directory_file(config->directory.file, *config);
  return dir.status();
}

}  // namespace shardgate::routing
