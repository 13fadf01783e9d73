// Internal helpers for reading validated YAML (config and directory files). Not a public API:
// errors are thrown as YamlError inside the parsers and turned into absl::Status at their
// public entry points, so no exception ever leaves config/ or routing/.
#pragma once

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "yaml-cpp/yaml.h"

namespace shardgate::config::yaml {

// One validation error, already formatted as "<file>:<line>: <dotted.key>: <problem>".
class YamlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Joins a dotted key path: join("tiers", "pro") == "tiers.pro"; join("", "x") == "x".
std::string join(std::string_view parent, std::string_view child);
// "auth.users" + 2 -> "auth.users[2]".
std::string index(std::string_view parent, size_t i);

// Reads nodes of one document, producing errors that name the source, line and key.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

  // "<source>:<line>" for a node (line 1-based; falls back to the last known line).
  std::string where(const YAML::Node& node) const;
  [[noreturn]] void fail(const YAML::Node& node, std::string_view key,
                         std::string_view problem) const;

  // Iterates a mapping (null = empty): calls f(key, value_node, dotted_key) for each entry.
  // Rejects keys not in `allowed` (unless allowed is empty) and duplicate keys.
  template <typename F>
  void for_each(const YAML::Node& map, std::string_view key,
                std::initializer_list<std::string_view> allowed, F&& f) const {
    if (map.IsNull()) return;
    if (!map.IsMap()) fail(map, key, "expected a mapping (key: value), got " + kind(map));
    absl::flat_hash_set<std::string> seen;
    for (const auto& kv : map) {  // yaml-cpp yields proxies by value: copy the nodes out
      const YAML::Node k = kv.first;
      const YAML::Node v = kv.second;
      if (!k.IsScalar()) fail(k, key, "mapping keys must be plain strings");
      std::string name = k.Scalar();
      std::string dotted = join(key, name);
      if (allowed.size() > 0 && !contains(allowed, name)) {
        fail(k, dotted, unknown_key_message(name, allowed));
      }
      if (!seen.insert(name).second) fail(k, dotted, "duplicate key");
      note(k);
      f(name, v, dotted);
    }
  }

  std::string str(const YAML::Node& n, std::string_view key) const;
  // Like str, but returns nullopt for an explicit null (`key: null`, `key: ~`, `key:`).
  std::optional<std::string> opt_str(const YAML::Node& n, std::string_view key) const;
  std::string non_empty_str(const YAML::Node& n, std::string_view key) const;
  int64_t integer(const YAML::Node& n, std::string_view key, int64_t min, int64_t max) const;
  double number(const YAML::Node& n, std::string_view key, double min, double max) const;
  bool boolean(const YAML::Node& n, std::string_view key) const;
  Duration duration(const YAML::Node& n, std::string_view key) const;
  Endpoint endpoint(const YAML::Node& n, std::string_view key) const;
  std::vector<std::string> str_list(const YAML::Node& n, std::string_view key) const;
  // A string resolved through resolve_secret (env:NAME).
  std::string secret(const YAML::Node& n, std::string_view key) const;

  template <typename E>
  E choice(const YAML::Node& n, std::string_view key,
           std::initializer_list<std::pair<std::string_view, E>> options) const {
    std::string s = str(n, key);
    std::string names;
    for (const auto& [name, value] : options) {
      if (s == name) return value;
      if (!names.empty()) names += ", ";
      names += name;
    }
    fail(n, key, "\"" + printable(s) + "\" is not one of: " + names);
  }

  // The per-tier / per-tenant `rate` block, starting from `base`.
  RateConfig rate(const YAML::Node& n, std::string_view key, RateConfig base) const;

  static std::string kind(const YAML::Node& n);
  // Client- or file-supplied text made safe to print: at most 64 characters, no controls.
  static std::string printable(std::string_view s);

 private:
  static bool contains(std::initializer_list<std::string_view> allowed, std::string_view name);
  static std::string unknown_key_message(std::string_view name,
                                         std::initializer_list<std::string_view> allowed);
  void note(const YAML::Node& n) const;

  std::string source_;
  mutable int last_line_ = 1;
};

// Parses a whole document, mapping yaml-cpp's syntax errors to "<source>:<line>: ...".
// Runs `body(root)`; YamlError and YAML::Exception become InvalidArgument statuses.
template <typename F>
absl::Status parse_document(const std::string& text, const Reader& reader, F&& body) {
  try {
    YAML::Node root = YAML::Load(text);
    body(root);
    return absl::OkStatus();
  } catch (const YamlError& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const YAML::Exception& e) {
    std::string line = e.mark.is_null() ? "1" : std::to_string(e.mark.line + 1);
    return absl::InvalidArgumentError(reader.source() + ":" + line + ": " + e.msg);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(reader.source() + ": " + e.what());
  }
}

// Reads a whole file; NotFound when it does not exist.
absl::StatusOr<std::string> read_file(const std::string& path);

}  // namespace shardgate::config::yaml
