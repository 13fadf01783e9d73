// Shared by the config/ unit tests: a minimal valid config and ways to parse it with extra YAML.
#pragma once

#include <string>

#include "config/config.h"

namespace shardgate::config::test_helpers {

// Shards and users: the two things every config needs. 4 lines; extra YAML starts at line 5.
inline constexpr const char* kBase =
    "shards:\n"
    "  s1: { host: 127.0.0.1 }\n"
    "auth:\n"
    "  users: [ { name: app, password: secret, tenants: \"*\" } ]\n";

inline absl::StatusOr<Config> parse(const std::string& extra) {
  return parse_config(std::string(kBase) + extra, "t.yaml");
}

inline std::string error_of(const absl::StatusOr<Config>& c) {
  return c.ok() ? std::string("(ok)") : std::string(c.status().message());
}

}  // namespace shardgate::config::test_helpers
