// shardgate's configuration: YAML (docs/configuration.md) -> validated, immutable structs.
// Loading never starts from a half-valid file: every error names file, line and key.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace YAML {
class Node;
}

namespace shardgate::config {

using Duration = std::chrono::milliseconds;

struct Endpoint {
  std::string host = "0.0.0.0";
  uint16_t port = 6432;
};

enum class AuthMethod { kScramSha256, kMd5, kPlain, kTrust };
enum class TenantSource { kOptions, kUserSuffix, kDatabase, kSession, kSearchPath };
enum class PoolKind { kShared, kDedicated };
enum class PoolMode { kSession, kTransaction };
// Transaction mode: statements whose effect outlives the transaction (temporary tables,
// PREPARE, WITH HOLD cursors, session advisory locks, LOAD) are refused, or run as PgBouncer
// runs them (the state stays on the server connection, for the tenant's next client there).
enum class SessionState { kRefuse, kAllow };
enum class Isolation { kSchema, kShared, kDatabase };
enum class Login { kProxy, kTenant };  // kTenant: servers log in as the tenant's own role
enum class RateAction { kThrottle, kReject };
enum class LogFormat { kJson, kText };
// Whether a tier's tenants get their own series in /metrics (within metrics.per_tenant_series).
enum class TenantSeries { kAuto, kAlways, kNever };

struct UserConfig {
  std::string name;
  // Plain password, "md5<32 hex>" or "SCRAM-SHA-256$...". env:NAME is resolved at load.
  std::string password;
  AuthMethod method = AuthMethod::kScramSha256;  // key `auth`: scram-sha-256 | md5 | plain | trust
  bool all_tenants = false;                      // tenants: "*"
  std::vector<std::string> tenants;              // otherwise the allow-list
  bool require_tls = false;                      // plaintext connections of this user: 28000
};

struct ShardConfig {
  std::string name;
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string dbname = "postgres";
  std::string user = "postgres";
  std::string password;  // may be empty (trust); env:NAME resolved
  // The control credential (moves): empty = the pool credential above.
  std::string admin_user;
  std::string admin_password;
  const std::string& control_user() const { return admin_user.empty() ? user : admin_user; }
  const std::string& control_password() const {
    return admin_user.empty() ? password : admin_password;
  }
  // TLS to the shard, as libpq's options of the same names (config/parse_tls.cc).
  std::string sslmode = "disable";  // disable | prefer | require | verify-ca | verify-full
  std::string sslrootcert;          // CA file (required by verify-ca and verify-full)
  std::string sslcert;              // client certificate for shards that ask for one
  std::string sslkey;
};

struct RateConfig {
  double queries_per_second = 0;  // 0 = unlimited
  double burst = 0;               // 0 = same as queries_per_second
  RateAction action = RateAction::kReject;
  Duration max_delay{0};
};

struct TierConfig {
  std::string name;
  PoolKind pool = PoolKind::kShared;
  int pool_size = 20;
  int min_pool_size = 0;
  PoolMode pool_mode = PoolMode::kSession;
  Isolation isolation = Isolation::kSchema;
  int weight = 1;
  // Transaction mode: requests of one tenant that may be in flight on one server connection
  // at once while the pool is exhausted (1 = one at a time, no pipelining; when it applies:
  // pool_decisions.h).
  int pipeline_depth = 16;
  SessionState session_state = SessionState::kRefuse;
  std::optional<int> max_server_connections_per_tenant;
  std::optional<int> max_client_connections;
  std::string role;  // template, e.g. "tenant_{tenant}"; empty = no SET ROLE
  Login login = Login::kProxy;
  // login: tenant — password template for the tenant's role, e.g. "env:TENANT_{tenant}_PW"
  std::string login_password;
  Duration pool_timeout{30000};          // also spelled query_wait_timeout (PgBouncer's name)
  Duration pause_timeout{60000};         // longest wait behind PAUSE (57P03 after)
  Duration server_idle_timeout{600000};  // idle server connections closed after this
  Duration server_lifetime{3600000};     // server connections retired after this age
  Duration slow_query_threshold{0};      // 0 = off
  bool allow_dynamic_sql = false;        // guard.allow_dynamic_sql
  RateConfig rate;
  TenantSeries tenant_series = TenantSeries::kAuto;
};

struct AdminConfig {
  std::string socket_dir = "/tmp";
  uint16_t port = 6432;
  std::optional<Endpoint> listen;  // TCP, requires password
  std::string user = "admin";
  std::string password;
  std::string audit_log;  // file path; empty = stderr log only
};

// The client-side `tls` block (also the admin TCP listener's). Paths are absolute after
// parsing (relative ones are resolved against the config file's folder).
enum class TlsMode { kDisable, kAllow, kRequire };
enum class TlsVersion { k1_2, k1_3 };
struct TlsConfig {
  TlsMode mode = TlsMode::kDisable;  // allow when cert_file is given and mode is not
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // optional: client certificates are verified against it
  TlsVersion min_version = TlsVersion::k1_2;
  std::string ciphers;  // TLS 1.2 cipher list (OpenSSL syntax); empty = shardgate's default
  bool enabled() const { return mode != TlsMode::kDisable; }
};

struct MetricsConfig {
  std::optional<Endpoint> listen;
  int per_tenant_series = 1000;
};

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::kJson;
};

struct TenantConfig {
  std::vector<TenantSource> sources{TenantSource::kOptions, TenantSource::kUserSuffix,
                                    TenantSource::kSession};
  std::string user_separator = ".";
  std::string schema_template = "tenant_{tenant}";
  bool database_is_tenant = false;
};

struct DefaultPlacement {
  bool reject = true;
  std::vector<std::string> hash_shards;  // when !reject
  std::string tier;
};

struct DirectoryConfig {
  std::string file;  // relative paths are resolved against the config file's folder
  DefaultPlacement default_placement;
};

struct GuardConfig {
  // Off only for measuring the guard's cost: with it off a client can leave its tenant.
  bool enabled = true;
  std::vector<std::string> shared_schemas;
};

struct ProvisioningConfig {
  std::string schema_sql = "CREATE SCHEMA {schema};";
};

// TCP keepalive on client and server sockets: a peer that vanished without closing (a host
// that died, a NAT or load balancer that forgot the flow) is found and its connection closed.
struct KeepAliveConfig {
  bool enabled = true;
  Duration idle{60000};      // TCP_KEEPIDLE: quiet time before the first probe
  Duration interval{10000};  // TCP_KEEPINTVL
  int count = 6;             // TCP_KEEPCNT: unanswered probes before the connection is dead
};

struct Config {
  std::string source_file;  // absolute path of the YAML it came from
  Endpoint listen;
  int workers = 0;  // 0 = one per core
  Duration connect_timeout{5000};
  Duration shutdown_timeout{30000};
  // Clients admitted at once over all workers (after their startup packet); nullopt = `auto`,
  // what the open-file limit leaves for clients (see proxy/fd_budget.h).
  std::optional<int> max_client_conn;
  // Startup packet, negotiation and authentication must finish within this; 0 = no limit.
  Duration client_login_timeout{60000};
  // A client with nothing outstanding and no transaction open for this long is closed (FATAL
  // 57P05); one idle inside a transaction for idle_transaction_timeout loses it: rolled back,
  // its server connection back in the pool, FATAL 25P03. 0 = no limit.
  Duration client_idle_timeout{0};
  Duration idle_transaction_timeout{0};
  KeepAliveConfig tcp_keepalive;
  AdminConfig admin;
  TlsConfig tls;
  MetricsConfig metrics;
  LogConfig log;
  std::vector<UserConfig> users;
  TenantConfig tenant;
  std::map<std::string, ShardConfig> shards;
  std::map<std::string, TierConfig> tiers;  // never empty: "default" when none are given
  GuardConfig guard;
  DirectoryConfig directory;
  ProvisioningConfig provisioning;

  const UserConfig* find_user(std::string_view name) const;
  const ShardConfig* find_shard(std::string_view name) const;
  const TierConfig* find_tier(std::string_view name) const;
};

using ConfigPtr = std::shared_ptr<const Config>;

// Parses YAML text; `source_name` is used in error messages ("file:line: key: problem").
absl::StatusOr<Config> parse_config(const std::string& yaml_text, const std::string& source_name);
absl::StatusOr<Config> load_config_file(const std::string& path);

namespace yaml {
class Reader;
}
// isolation: schema | shared | database, for a tier or one directory entry (parse_tiers.cc).
Isolation parse_isolation(const yaml::Reader& reader, const YAML::Node& node, std::string_view key);
// The `tls` block (config/parse_tls.cc); `config_file` anchors relative paths.
TlsConfig parse_tls(const yaml::Reader& reader, const YAML::Node& node,
                    const std::string& config_file);
// One of a shard's ssl* keys (`name`), into `shard`.
void parse_shard_tls_key(const yaml::Reader& reader, const std::string& name,
                         const YAML::Node& node, const std::string& key, ShardConfig& shard,
                         const std::string& config_file);
// After all of a shard's keys: the combinations that make no sense (a key without its cert).
void check_shard_tls(const yaml::Reader& reader, const YAML::Node& node, const std::string& key,
                     const ShardConfig& shard);
// A path as written in the config file: absolute, or relative to the file's folder.
std::string resolve_config_path(const std::string& path, const std::string& config_file);

// Resolves "env:NAME" to the environment variable's value; other strings are returned as is.
absl::StatusOr<std::string> resolve_secret(const std::string& value, const std::string& where);

// Parses "5s", "200ms", "1m", "250" (ms).
std::optional<Duration> parse_duration(std::string_view text);

// True for a valid tenant ID: 1-63 characters of [A-Za-z0-9_-].
bool valid_tenant_id(std::string_view id);

// A stored md5 password: "md5" and 32 lowercase hex digits, as PostgreSQL recognises one
// (anything else is a plain-text password).
bool is_md5_hash(std::string_view password);

}  // namespace shardgate::config
