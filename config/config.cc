// Config lookups, secrets, durations and file loading. YAML parsing: config_parse.cc.
#include "config/config.h"

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/numbers.h"
#include "config/yaml_reader.h"

namespace shardgate::config {

const UserConfig* Config::find_user(std::string_view name) const {
  for (const auto& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const ShardConfig* Config::find_shard(std::string_view name) const {
  auto it = shards.find(std::string(name));
  return it == shards.end() ? nullptr : &it->second;
}

const TierConfig* Config::find_tier(std::string_view name) const {
  auto it = tiers.find(std::string(name));
  return it == tiers.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> resolve_secret(const std::string& value, const std::string& where) {
  constexpr std::string_view kPrefix = "env:";
  if (value.compare(0, kPrefix.size(), kPrefix) != 0) return value;
  std::string name = value.substr(kPrefix.size());
  bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    valid = valid && ok;
  }
  if (!valid) {
    return absl::InvalidArgumentError(where + ": \"env:" + yaml::Reader::printable(name) +
                                      "\" does not name an environment variable " +
                                      "(use env:NAME with letters, digits and _)");
  }
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) {
    return absl::InvalidArgumentError(where + ": environment variable " + name +
                                      " is not set (export it before starting shardgate)");
  }
  return std::string(v);
}

std::optional<Duration> parse_duration(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(std::string(text.substr(0, digits)), &value)) return std::nullopt;
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  int64_t scale;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else {
    return std::nullopt;
  }
  // 12 digits * 3.6e6 stays far below int64 max.
  return Duration(value * scale);
}

bool valid_tenant_id(std::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_md5_hash(std::string_view password) {
  if (password.size() != 35 || !password.starts_with("md5")) return false;
  for (char c : password.substr(3))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

absl::StatusOr<Config> load_config_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  std::string name = ec ? path : abs.lexically_normal().string();
  auto text = yaml::read_file(name);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(name + ": config file does not exist");
    }
    return text.status();
  }
  return parse_config(*text, name);
}

}  // namespace shardgate::config
