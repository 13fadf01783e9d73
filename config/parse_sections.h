// Config sections parsed in files of their own (config/parse_<section>.cc).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace shardgate::config {

// tcp_keepalive: true | false | { enabled, idle, interval, count } (parse_keepalive.cc).
KeepAliveConfig parse_keepalive(const yaml::Reader& r, const YAML::Node& node,
                                std::string_view key);

// tiers (parse_tiers.cc): never empty, "default" when none are given.
std::map<std::string, TierConfig> parse_tiers(const yaml::Reader& r, const YAML::Node& node);

// tenant (parse_tenant.cc).
TenantConfig parse_tenant(const yaml::Reader& r, const YAML::Node& node);

// auth (parse_auth.cc): at least one user; `root` places the error when the block is missing.
std::vector<UserConfig> parse_auth(const yaml::Reader& r, const YAML::Node& node,
                                   const YAML::Node& root, bool tls_enabled);

// directory (parse_directory.cc): needs the shards and tiers of `config` already parsed.
DirectoryConfig parse_directory(const yaml::Reader& r, const YAML::Node& node,
                                const Config& config);

// A count setting: a whole number from `min` up.
inline int count(const yaml::Reader& r, const YAML::Node& n, const std::string& key, int min) {
  return static_cast<int>(r.integer(n, key, min, 1000000));
}

}  // namespace shardgate::config
