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

bool is_scram_verifier(std::string_view p) { return p.rfind("SCRAM-SHA-256$", 0) == 0; }

// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".
bool well_formed_scram(std::string_view p) {
  p.remove_prefix(std::string_view("SCRAM-SHA-256$").size());
  size_t colon1 = p.find(':');
  size_t dollar = p.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) {
    return false;
  }
  std::string_view iter = p.substr(0, colon1);
  std::string_view salt = p.substr(colon1 + 1, dollar - colon1 - 1);
  std::string_view keys = p.substr(dollar + 1);
  size_t colon2 = keys.find(':');
  if (iter.empty() || salt.empty() || colon2 == std::string_view::npos || colon2 == 0 ||
      colon2 + 1 == keys.size()) {
    return false;
  }
  for (char c : iter) {
    if (c < '0' || c > '9') return false;
  }
  return iter != "0";
}

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& source) : r_(source) { c_.source_file = source; }

  void parse(const YAML::Node& root) {
    if (!root.IsNull() && !root.IsMap()) {
      r_.fail(root, "", "the config must be a mapping of keys, got " + Reader::kind(root));
    }
    std::map<std::string, YAML::Node> sections;
    r_.for_each(
        root, "",
        {"listen",
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
         "provisioning"},
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
    parse_tiers(section("tiers"));
    parse_tenant(section("tenant"));
    parse_auth(section("auth"), root);
    r_.for_each(section("guard"), "guard", {"shared_schemas", "enabled"},
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
    parse_directory(section("directory"));
    r_.for_each(section("provisioning"), "provisioning", {"schema_sql"},
                [&](const std::string&, const YAML::Node& v, const std::string& key) {
                  c_.provisioning.schema_sql = r_.non_empty_str(v, key);
                });
  }

  Config take() { return std::move(c_); }

 private:
  Duration positive(const YAML::Node& n, const std::string& key) {
    Duration d = r_.duration(n, key);
    if (d.count() <= 0) r_.fail(n, key, "must be greater than 0");
    return d;
  }

  int count(const YAML::Node& n, const std::string& key, int min) {
    return static_cast<int>(r_.integer(n, key, min, 1000000));
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
                    c_.metrics.per_tenant_series = count(v, key, 0);
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

  void parse_tiers(const YAML::Node& n) {
    r_.for_each(
        n, "tiers", {}, [&](const std::string& name, const YAML::Node& v, const std::string& key) {
          if (!valid_name(name)) {
            r_.fail(v, key, "tier names are 1-63 characters of A-Z, a-z, 0-9, _ and -");
          }
          TierConfig t;
          t.name = name;
          bool pool_given = false;
          YAML::Node pool_node, min_node, login_node;
          bool wait_given = false;
          r_.for_each(
              v, key,
              {"pool",
               "pool_size",
               "min_pool_size",
               "pool_mode",
               "isolation",
               "weight",
               "pipeline_depth",
               "session_state",
               "max_server_connections_per_tenant",
               "max_client_connections",
               "role",
               "login",
               "login_password",
               "pool_timeout",
               "query_wait_timeout",
               "pause_timeout",
               "server_idle_timeout",
               "server_lifetime",
               "slow_query_threshold",
               "tenant_series",
               "guard",
               "rate"},
              [&](const std::string& k, const YAML::Node& f, const std::string& fkey) {
                if (k == "pool") {
                  t.pool = r_.choice<PoolKind>(
                      f, fkey,
                      {{"shared", PoolKind::kShared}, {"dedicated", PoolKind::kDedicated}});
                  pool_given = true;
                  pool_node = f;
                } else if (k == "pool_size") {
                  t.pool_size = count(f, fkey, 1);
                } else if (k == "min_pool_size") {
                  t.min_pool_size = count(f, fkey, 0);
                  min_node = f;
                } else if (k == "pool_mode") {
                  t.pool_mode = r_.choice<PoolMode>(
                      f, fkey,
                      {{"session", PoolMode::kSession}, {"transaction", PoolMode::kTransaction}});
                } else if (k == "isolation") {
                  t.isolation = isolation(f, fkey);
                } else if (k == "weight") {
                  t.weight = static_cast<int>(r_.integer(f, fkey, 1, 1000));
                } else if (k == "pipeline_depth") {
                  t.pipeline_depth = static_cast<int>(r_.integer(f, fkey, 1, 16));
                } else if (k == "session_state") {
                  t.session_state = r_.choice<SessionState>(
                      f, fkey,
                      {{"refuse", SessionState::kRefuse}, {"allow", SessionState::kAllow}});
                } else if (k == "max_server_connections_per_tenant") {
                  t.max_server_connections_per_tenant = count(f, fkey, 1);
                } else if (k == "max_client_connections") {
                  t.max_client_connections = count(f, fkey, 1);
                } else if (k == "role") {
                  t.role = r_.str(f, fkey);
                } else if (k == "login") {
                  t.login = r_.choice<Login>(
                      f, fkey, {{"proxy", Login::kProxy}, {"tenant", Login::kTenant}});
                  login_node = f;
                } else if (k == "login_password") {
                  t.login_password = r_.str(f, fkey);
                } else if (k == "pool_timeout" || k == "query_wait_timeout") {
                  // One setting, two names: PgBouncer users know it as query_wait_timeout.
                  if (wait_given)
                    r_.fail(f, fkey,
                            "pool_timeout and query_wait_timeout are the same setting: "
                            "give one");
                  wait_given = true;
                  t.pool_timeout = r_.duration(f, fkey);
                } else if (k == "pause_timeout") {
                  t.pause_timeout = r_.duration(f, fkey);
                } else if (k == "server_idle_timeout") {
                  t.server_idle_timeout = r_.duration(f, fkey);
                } else if (k == "server_lifetime") {
                  t.server_lifetime = r_.duration(f, fkey);
                } else if (k == "slow_query_threshold") {
                  t.slow_query_threshold = r_.duration(f, fkey);
                } else if (k == "tenant_series") {
                  t.tenant_series = r_.choice<TenantSeries>(f, fkey,
                                                            {{"auto", TenantSeries::kAuto},
                                                             {"always", TenantSeries::kAlways},
                                                             {"never", TenantSeries::kNever}});
                } else if (k == "guard") {
                  r_.for_each(
                      f, fkey, {"allow_dynamic_sql"},
                      [&](const std::string&, const YAML::Node& g, const std::string& gkey) {
                        t.allow_dynamic_sql = r_.boolean(g, gkey);
                      });
                } else {
                  t.rate = r_.rate(f, fkey, t.rate);
                }
              });
          if (t.min_pool_size > t.pool_size) {
            r_.fail(min_node, yaml::join(key, "min_pool_size"),
                    "must not exceed pool_size (" + std::to_string(t.pool_size) + ")");
          }
          if (t.login == Login::kTenant) {
            // Server connections log in as the tenant's role: pools are necessarily per tenant.
            if (pool_given && t.pool == PoolKind::kShared) {
              r_.fail(pool_node, yaml::join(key, "pool"),
                      "login: tenant needs pool: dedicated (server connections belong to one "
                      "tenant's role)");
            }
            t.pool = PoolKind::kDedicated;
            if (t.role.empty()) t.role = "tenant_{tenant}";
          }
          if (!t.role.empty() && t.role.find("{tenant}") == std::string::npos &&
              t.login == Login::kTenant) {
            r_.fail(login_node, yaml::join(key, "role"),
                    "login: tenant needs a role template containing {tenant}");
          }
          c_.tiers.emplace(name, std::move(t));
        });
    if (c_.tiers.empty()) {
      TierConfig t;
      t.name = "default";
      c_.tiers.emplace(t.name, std::move(t));
    }
  }

  Isolation isolation(const YAML::Node& f, const std::string& key) {
    return r_.choice<Isolation>(f, key,
                                {{"schema", Isolation::kSchema},
                                 {"shared", Isolation::kShared},
                                 {"database", Isolation::kDatabase}});
  }

  void parse_tenant(const YAML::Node& n) {
    TenantConfig& t = c_.tenant;
    YAML::Node sources_node, db_node;
    bool sources_given = false;
    r_.for_each(
        n, "tenant", {"sources", "user_separator", "schema_template", "database_is_tenant"},
        [&](const std::string& k, const YAML::Node& v, const std::string& key) {
          if (k == "sources") {
            sources_given = true;
            sources_node = v;
            if (!v.IsSequence()) r_.fail(v, key, "expected a list, got " + Reader::kind(v));
            t.sources.clear();
            for (size_t i = 0; i < v.size(); ++i) {
              std::string ikey = yaml::index(key, i);
              TenantSource s =
                  r_.choice<TenantSource>(v[i], ikey,
                                          {{"options", TenantSource::kOptions},
                                           {"user_suffix", TenantSource::kUserSuffix},
                                           {"database", TenantSource::kDatabase},
                                           {"session", TenantSource::kSession},
                                           {"search_path", TenantSource::kSearchPath}});
              for (TenantSource seen : t.sources) {
                if (seen == s) r_.fail(v[i], ikey, "listed twice");
              }
              t.sources.push_back(s);
            }
            if (t.sources.empty()) {
              r_.fail(v, key, "at least one source is required (fail closed: no tenant, no query)");
            }
          } else if (k == "user_separator") {
            t.user_separator = r_.non_empty_str(v, key);
            if (t.user_separator.size() > 8) r_.fail(v, key, "at most 8 characters");
          } else if (k == "schema_template") {
            t.schema_template = r_.non_empty_str(v, key);
            if (t.schema_template.find("{tenant}") == std::string::npos) {
              r_.fail(v, key,
                      "must contain {tenant} (e.g. \"tenant_{tenant}\"), or every tenant would "
                      "share one schema");
            }
          } else {
            t.database_is_tenant = r_.boolean(v, key);
            db_node = v;
          }
        });
    bool lists_db = false;
    for (TenantSource s : t.sources) lists_db = lists_db || s == TenantSource::kDatabase;
    if (lists_db && !t.database_is_tenant) {
      r_.fail(sources_node, "tenant.sources",
              "lists database but tenant.database_is_tenant is false; set it to true or remove "
              "database");
    }
    if (t.database_is_tenant && !lists_db) {
      if (sources_given) {
        r_.fail(db_node, "tenant.database_is_tenant",
                "is true but tenant.sources does not list database; add it where it should be "
                "tried");
      }
      // Default order with database in its documented place: options, user_suffix, database,
      // session.
      t.sources = {TenantSource::kOptions, TenantSource::kUserSuffix, TenantSource::kDatabase,
                   TenantSource::kSession};
    }
  }

  void parse_auth(const YAML::Node& n, const YAML::Node& root) {
    YAML::Node users_node;
    r_.for_each(n, "auth", {"users"},
                [&](const std::string&, const YAML::Node& v, const std::string& key) {
                  users_node = v;
                  if (!v.IsSequence()) r_.fail(v, key, "expected a list of users");
                  for (size_t i = 0; i < v.size(); ++i) parse_user(v[i], yaml::index(key, i));
                });
    if (c_.users.empty()) {
      r_.fail(users_node.IsDefined() && !users_node.IsNull() ? users_node
              : n.IsNull()                                   ? root
                                                             : n,
              "auth.users",
              "at least one user is required (auth: { users: [ { name: app, password: ..., "
              "tenants: \"*\" } ] })");
    }
  }

  void parse_user(const YAML::Node& n, const std::string& key) {
    if (!n.IsMap()) r_.fail(n, key, "expected a mapping {name, password, auth, tenants}");
    UserConfig u;
    std::optional<YAML::Node> name_node, password_node, auth_node, tenants_node;
    r_.for_each(n, key, {"name", "password", "auth", "tenants", "require_tls"},
                [&](const std::string& k, const YAML::Node& v, const std::string& fkey) {
                  if (k == "require_tls") {
                    u.require_tls = r_.boolean(v, fkey);
                    if (u.require_tls && !c_.tls.enabled())
                      r_.fail(v, fkey,
                              "this user could never connect: TLS is off (give tls.cert_file "
                              "and tls.key_file)");
                  } else if (k == "name") {
                    u.name = r_.non_empty_str(v, fkey);
                    name_node = v;
                  } else if (k == "password") {
                    u.password = r_.secret(v, fkey);
                    password_node = v;
                  } else if (k == "auth") {
                    u.method = r_.choice<AuthMethod>(v, fkey,
                                                     {{"scram-sha-256", AuthMethod::kScramSha256},
                                                      {"md5", AuthMethod::kMd5},
                                                      {"plain", AuthMethod::kPlain},
                                                      {"trust", AuthMethod::kTrust}});
                    auth_node = v;
                  } else {
                    tenants_node = v;
                    parse_user_tenants(v, fkey, u);
                  }
                });
    if (!name_node) r_.fail(n, yaml::join(key, "name"), "missing (every user needs a name)");
    if (c_.find_user(u.name))
      r_.fail(*name_node, yaml::join(key, "name"), "user \"" + u.name + "\" is defined twice");
    if (!tenants_node) {
      r_.fail(
          n, yaml::join(key, "tenants"),
          "missing for user \"" + u.name + "\": give \"*\" (any tenant) or a list of tenant IDs");
    }
    std::string pkey = yaml::join(key, "password");
    const YAML::Node& pnode = password_node ? *password_node : n;
    if (u.method == AuthMethod::kTrust) {
      if (!u.password.empty()) {
        r_.fail(pnode, pkey,
                "user \"" + u.name +
                    "\" uses auth: trust, which takes no password; remove it or "
                    "choose another auth method");
      }
    } else if (u.password.empty()) {
      r_.fail(pnode, pkey, "user \"" + u.name + "\" needs a password (or auth: trust)");
    } else if (is_scram_verifier(u.password)) {
      if (!well_formed_scram(u.password)) {
        r_.fail(pnode, pkey,
                "malformed SCRAM verifier (expected SCRAM-SHA-256$<iterations>:<salt>$"
                "<StoredKey>:<ServerKey>, as in pg_authid)");
      }
      if (u.method == AuthMethod::kMd5) {
        r_.fail(auth_node ? *auth_node : pnode, yaml::join(key, "auth"),
                "user \"" + u.name +
                    "\": md5 cannot use a SCRAM-SHA-256 verifier; give the plain "
                    "password or an md5 hash, or use auth: scram-sha-256");
      }
    } else if (is_md5_hash(u.password) && u.method == AuthMethod::kScramSha256) {
      r_.fail(auth_node ? *auth_node : pnode, yaml::join(key, "auth"),
              "user \"" + u.name +
                  "\": scram-sha-256 cannot use an md5 hash; give the plain "
                  "password or a SCRAM verifier, or use auth: md5");
    }
    c_.users.push_back(std::move(u));
  }

  void parse_user_tenants(const YAML::Node& v, const std::string& key, UserConfig& u) {
    if (v.IsScalar()) {
      if (v.Scalar() != "*") {
        r_.fail(v, key, "expected \"*\" (any tenant) or a list of tenant IDs");
      }
      u.all_tenants = true;
      return;
    }
    auto list = r_.str_list(v, key);
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i] == "*") {
        u.all_tenants = true;
      } else if (!valid_tenant_id(list[i])) {
        r_.fail(v[i], yaml::index(key, i),
                "\"" + Reader::printable(list[i]) +
                    "\" is not a valid tenant ID (1-63 characters of A-Z, a-z, 0-9, _ and -)");
      } else {
        u.tenants.push_back(list[i]);
      }
    }
  }

  void parse_directory(const YAML::Node& n) {
    DirectoryConfig& d = c_.directory;
    r_.for_each(n, "directory", {"file", "default_placement"},
                [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                  if (k == "file") {
                    d.file = resolve_path(r_.non_empty_str(v, key));
                  } else {
                    parse_default_placement(v, key);
                  }
                });
  }

  std::string resolve_path(const std::string& file) {
    return resolve_config_path(file, c_.source_file);
  }

  void parse_default_placement(const YAML::Node& v, const std::string& key) {
    DefaultPlacement& dp = c_.directory.default_placement;
    if (v.IsScalar()) {
      if (v.Scalar() != "reject") {
        r_.fail(v, key, "expected reject or { hash: [shards...], tier: name }");
      }
      dp = DefaultPlacement{};
      return;
    }
    if (!v.IsMap()) r_.fail(v, key, "expected reject or { hash: [shards...], tier: name }");
    std::optional<YAML::Node> hash_node;
    r_.for_each(
        v, key, {"hash", "tier"},
        [&](const std::string& k, const YAML::Node& f, const std::string& fkey) {
          if (k == "hash") {
            hash_node = f;
            dp.hash_shards = r_.str_list(f, fkey);
            for (size_t i = 0; i < dp.hash_shards.size(); ++i) {
              const std::string& s = dp.hash_shards[i];
              if (!c_.find_shard(s)) {
                r_.fail(f[i], yaml::index(fkey, i),
                        "shard \"" + Reader::printable(s) + "\" is not defined under shards");
              }
              for (size_t j = 0; j < i; ++j) {
                if (dp.hash_shards[j] == s) r_.fail(f[i], yaml::index(fkey, i), "listed twice");
              }
            }
          } else {
            dp.tier = r_.non_empty_str(f, fkey);
            if (!c_.find_tier(dp.tier)) {
              r_.fail(f, fkey,
                      "tier \"" + Reader::printable(dp.tier) + "\" is not defined under tiers");
            }
          }
        });
    if (dp.hash_shards.empty()) {
      r_.fail(hash_node ? *hash_node : v, yaml::join(key, "hash"),
              "list the shards unknown tenants are hashed over, e.g. hash: [s1, s2]");
    }
    if (dp.tier.empty()) {
      if (c_.tiers.size() != 1) {
        r_.fail(v, yaml::join(key, "tier"),
                "required when more than one tier is configured (which tier do unknown tenants "
                "get?)");
      }
      dp.tier = c_.tiers.begin()->first;
    }
    dp.reject = false;
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
