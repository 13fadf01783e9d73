// parse_config: YAML text -> validated Config. Every error is "<file>:<line>: <key>: <problem>".
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "config/config.h"
#include "config/parse_sections.h"
#include "config/yaml_reader.h"

namespace shardgate::config {
namespace {

using yaml::Reader;

// Shard and tier names: [A-Za-z0-9_-]+, at most 63 characters.
bool valid_name(std::string_view s) { return valid_tenant_id(s); }

// The top-level keys; each names a section of docs/configuration.md.
const std::initializer_list<std::string_view> kSections = {"listen",
                                                           "workers",
                                                           "connect_timeout",
                                                           "shutdown_timeout",
                                                           "max_client_conn",
                                                           "client_login_timeout",
                                                           "client_idle_timeout",
                                                           "idle_transaction_timeout",
                                                           "tcp_keepalive",
                                                           "admin",
                                                           "tls",
                                                           "metrics",
                                                           "log",
                                                           "auth",
                                                           "tenant",
                                                           "shards",
                                                           "tiers",
                                                           "guard",
                                                           "directory",
                                                           "provisioning"};

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& source) : r_(source) { c_.source_file = source; }

  void parse(const YAML::Node& root) {
    if (!root.IsNull() && !root.IsMap()) {
      r_.fail(root, "", "the config must be a mapping of keys, got " + Reader::kind(root));
    }
    std::map<std::string, YAML::Node> sections;
    r_.for_each(
        root, "", kSections,
        [&](const std::string& k, const YAML::Node& v, const std::string&) { sections[k] = v; });
    auto section = [&](const char* name) {
      auto it = sections.find(name);
      return it == sections.end() ? YAML::Node(YAML::NodeType::Null) : it->second;
    };
    if (sections.count("listen")) c_.listen = r_.endpoint(section("listen"), "listen");
    if (sections.count("workers")) {
      c_.workers = static_cast<int>(r_.integer(section("workers"), "workers", 0, 1024));
    }
    if (sections.count("connect_timeout")) {
      c_.connect_timeout = positive(section("connect_timeout"), "connect_timeout");
    }
    if (sections.count("shutdown_timeout")) {
      c_.shutdown_timeout = r_.duration(section("shutdown_timeout"), "shutdown_timeout");
    }
    if (sections.count("max_client_conn")) parse_max_client_conn(section("max_client_conn"));
    if (sections.count("client_login_timeout")) {
      c_.client_login_timeout =
          r_.duration(section("client_login_timeout"), "client_login_timeout");
    }
    for (const char* key : {"client_idle_timeout", "idle_transaction_timeout"}) {
      if (!sections.count(key)) continue;
      Duration d = r_.duration(section(key), key);
      (std::string_view(key) == "client_idle_timeout" ? c_.client_idle_timeout
                                                      : c_.idle_transaction_timeout) = d;
    }
    if (sections.count("tcp_keepalive"))
      c_.tcp_keepalive = parse_keepalive(r_, section("tcp_keepalive"), "tcp_keepalive");
    parse_admin(section("admin"));
    c_.tls = parse_tls(r_, section("tls"), c_.source_file);
    parse_metrics(section("metrics"));
    parse_log(section("log"));
    parse_shards(section("shards"), root);
    c_.tiers = parse_tiers(r_, section("tiers"));
    c_.tenant = parse_tenant(r_, section("tenant"));
    c_.users = parse_auth(r_, section("auth"), root, c_.tls.enabled());
    parse_guard(section("guard"));
    c_.directory = parse_directory(r_, section("directory"), c_);
    r_.for_each(section("provisioning"), "provisioning", {"schema_sql"},
                [&](const std::string&, const YAML::Node& v, const std::string& key) {
                  c_.provisioning.schema_sql = r_.non_empty_str(v, key);
                });
  }

  Config take() { return std::move(c_); }

 private:
  void parse_guard(const YAML::Node& n) {
    r_.for_each(n, "guard", {"shared_schemas", "enabled"},
                [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                  if (k == "enabled") {
                    c_.guard.enabled = r_.boolean(v, key);
                    return;
                  }
                  c_.guard.shared_schemas = r_.str_list(v, key);
                  for (size_t i = 0; i < c_.guard.shared_schemas.size(); ++i) {
                    if (c_.guard.shared_schemas[i].empty()) {
                      r_.fail(v[i], yaml::index(key, i), "must not be empty");
                    }
                  }
                });
  }

  Duration positive(const YAML::Node& n, const std::string& key) {
    Duration d = r_.duration(n, key);
    if (d.count() <= 0) r_.fail(n, key, "must be greater than 0");
    return d;
  }

  // `auto` (the default) or a whole number >= 1.
  void parse_max_client_conn(const YAML::Node& n) {
    std::string s = r_.str(n, "max_client_conn");
    if (s == "auto") return;
    int64_t v = 0;
    if (!absl::SimpleAtoi(s, &v))
      r_.fail(n, "max_client_conn",
              "\"" + Reader::printable(s) + "\" is not a whole number or auto");
    c_.max_client_conn = static_cast<int>(r_.integer(n, "max_client_conn", 1, 10000000));
  }

  void parse_admin(const YAML::Node& n) {
    AdminConfig& a = c_.admin;
    YAML::Node listen_node;
    r_.for_each(n, "admin", {"socket_dir", "port", "listen", "user", "password", "audit_log"},
                [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                  if (k == "socket_dir") {
                    a.socket_dir = r_.non_empty_str(v, key);
                  } else if (k == "port") {
                    a.port = static_cast<uint16_t>(r_.integer(v, key, 1, 65535));
                  } else if (k == "listen") {
                    if (!v.IsNull()) a.listen = r_.endpoint(v, key);
                    listen_node = v;
                  } else if (k == "user") {
                    a.user = r_.non_empty_str(v, key);
                  } else if (k == "password") {
                    a.password = r_.secret(v, key);
                  } else {
                    a.audit_log = r_.str(v, key);
                  }
                });
    if (a.listen && a.password.empty()) {
      r_.fail(listen_node, "admin.listen",
              "a TCP admin listener needs admin.password (set it, or use the Unix socket only)");
    }
  }

  void parse_metrics(const YAML::Node& n) {
    r_.for_each(n, "metrics", {"listen", "per_tenant_series"},
                [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                  if (k == "listen") {
                    if (!v.IsNull()) c_.metrics.listen = r_.endpoint(v, key);
                  } else {
                    c_.metrics.per_tenant_series = count(r_, v, key, 0);
                  }
                });
  }

  void parse_log(const YAML::Node& n) {
    r_.for_each(n, "log", {"level", "format"},
                [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                  if (k == "level") {
                    c_.log.level = std::string(r_.choice<std::string_view>(v, key,
                                                                           {{"trace", "trace"},
                                                                            {"debug", "debug"},
                                                                            {"info", "info"},
                                                                            {"warn", "warn"},
                                                                            {"error", "error"}}));
                  } else {
                    c_.log.format = r_.choice<LogFormat>(
                        v, key, {{"json", LogFormat::kJson}, {"text", LogFormat::kText}});
                  }
                });
  }

  void parse_shards(const YAML::Node& n, const YAML::Node& root) {
    r_.for_each(
        n, "shards", {}, [&](const std::string& name, const YAML::Node& v, const std::string& key) {
          if (!valid_name(name)) {
            r_.fail(v, key, "shard names are 1-63 characters of A-Z, a-z, 0-9, _ and -");
          }
          if (!v.IsMap())
            r_.fail(v, key, "expected a mapping {host, port, dbname, user, password}");
          ShardConfig s;
          s.name = name;
          r_.for_each(v, key,
                      {"host", "port", "dbname", "user", "password", "admin_user", "admin_password",
                       "sslmode", "sslrootcert", "sslcert", "sslkey"},
                      [&](const std::string& k, const YAML::Node& f, const std::string& fkey) {
                        if (k.starts_with("ssl")) {
                          parse_shard_tls_key(r_, k, f, fkey, s, c_.source_file);
                        } else if (k == "host") {
                          s.host = r_.non_empty_str(f, fkey);
                        } else if (k == "port") {
                          s.port = static_cast<uint16_t>(r_.integer(f, fkey, 1, 65535));
                        } else if (k == "dbname") {
                          s.dbname = r_.non_empty_str(f, fkey);
                        } else if (k == "user") {
                          s.user = r_.non_empty_str(f, fkey);
                        } else if (k == "admin_user") {
                          s.admin_user = r_.non_empty_str(f, fkey);
                        } else if (k == "admin_password") {
                          s.admin_password = r_.secret(f, fkey);
                        } else {
                          s.password = r_.secret(f, fkey);
                        }
                      });
          check_shard_tls(r_, v, key, s);
          c_.shards.emplace(name, std::move(s));
        });
    if (c_.shards.empty()) {
      r_.fail(n.IsNull() ? root : n, "shards",
              "at least one shard is required (shards: { s1: { host: ..., port: 5432 } })");
    }
  }

  Reader r_;
  Config c_;
};

}  // namespace

absl::StatusOr<Config> parse_config(const std::string& yaml_text, const std::string& source_name) {
  ConfigParser parser(source_name);
  Reader reader(source_name);
  absl::Status st =
      yaml::parse_document(yaml_text, reader, [&](const YAML::Node& root) { parser.parse(root); });
  if (!st.ok()) return st;
  return parser.take();
}

}  // namespace shardgate::config
