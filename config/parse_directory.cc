// directory: { file, default_placement: reject | { hash: [shards...], tier } }.
#include <optional>
#include <string>

#include "config/parse_sections.h"

namespace shardgate::config {
namespace {

using yaml::Reader;

void parse_hash_shards(const Reader& r, const YAML::Node& f, const std::string& fkey,
                       const Config& c, DefaultPlacement& dp) {
  dp.hash_shards = r.str_list(f, fkey);
  for (size_t i = 0; i < dp.hash_shards.size(); ++i) {
    const std::string& s = dp.hash_shards[i];
    if (!c.find_shard(s)) {
      r.fail(f[i], yaml::index(fkey, i),
             "shard \"" + Reader::printable(s) + "\" is not defined under shards");
    }
    for (size_t j = 0; j < i; ++j) {
      if (dp.hash_shards[j] == s) r.fail(f[i], yaml::index(fkey, i), "listed twice");
    }
  }
}

DefaultPlacement parse_default_placement(const Reader& r, const YAML::Node& v,
                                         const std::string& key, const Config& c) {
  DefaultPlacement dp;
  if (v.IsScalar()) {
    if (v.Scalar() != "reject") {
      r.fail(v, key, "expected reject or { hash: [shards...], tier: name }");
    }
    return dp;
  }
  if (!v.IsMap()) r.fail(v, key, "expected reject or { hash: [shards...], tier: name }");
  std::optional<YAML::Node> hash_node;
  r.for_each(v, key, {"hash", "tier"},
             [&](const std::string& k, const YAML::Node& f, const std::string& fkey) {
               if (k == "hash") {
                 hash_node = f;
                 parse_hash_shards(r, f, fkey, c, dp);
               } else {
                 dp.tier = r.non_empty_str(f, fkey);
                 if (!c.find_tier(dp.tier)) {
                   r.fail(f, fkey,
                          "tier \"" + Reader::printable(dp.tier) + "\" is not defined under tiers");
                 }
               }
             });
  if (dp.hash_shards.empty()) {
    r.fail(hash_node ? *hash_node : v, yaml::join(key, "hash"),
           "list the shards unknown tenants are hashed over, e.g. hash: [s1, s2]");
  }
  if (dp.tier.empty()) {
    if (c.tiers.size() != 1) {
      r.fail(v, yaml::join(key, "tier"),
             "required when more than one tier is configured (which tier do unknown tenants "
             "get?)");
    }
    dp.tier = c.tiers.begin()->first;
  }
  dp.reject = false;
  return dp;
}

}  // namespace

DirectoryConfig parse_directory(const Reader& r, const YAML::Node& n, const Config& c) {
  DirectoryConfig d;
  r.for_each(n, "directory", {"file", "default_placement"},
             [&](const std::string& k, const YAML::Node& v, const std::string& key) {
               if (k == "file") {
                 d.file = resolve_config_path(r.non_empty_str(v, key), c.source_file);
               } else {
                 d.default_placement = parse_default_placement(r, v, key, c);
               }
             });
  return d;
}

}  // namespace shardgate::config
