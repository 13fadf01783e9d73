// config/: YAML -> Config, defaults, validation errors ("file:line: key: problem"), secrets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "tests/unit/config_test_helpers.h"

namespace shardgate::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using test_helpers::error_of;
using test_helpers::kBase;
using test_helpers::parse;

TEST(ConfigLoad, MinimalConfigGetsDefaults) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source_file, "t.yaml");
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 6432);
  EXPECT_EQ(c->workers, 0);
  EXPECT_EQ(c->connect_timeout, Duration(5000));
  EXPECT_EQ(c->shutdown_timeout, Duration(30000));
  EXPECT_EQ(c->admin.user, "admin");
  EXPECT_FALSE(c->admin.listen.has_value());
  EXPECT_FALSE(c->metrics.listen.has_value());
  EXPECT_EQ(c->log.level, "info");
  EXPECT_EQ(c->log.format, LogFormat::kJson);
  ASSERT_EQ(c->tiers.size(), 1u);
  const TierConfig* t = c->find_tier("default");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "default");
  EXPECT_EQ(t->pool, PoolKind::kShared);
  EXPECT_EQ(t->isolation, Isolation::kSchema);
  EXPECT_EQ(c->tenant.sources,
            (std::vector<TenantSource>{TenantSource::kOptions, TenantSource::kUserSuffix,
                                       TenantSource::kSession}));
  EXPECT_EQ(c->tenant.user_separator, ".");
  EXPECT_TRUE(c->directory.default_placement.reject);
  EXPECT_EQ(c->directory.file, "");
  const ShardConfig* s = c->find_shard("s1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "s1");
  EXPECT_EQ(s->port, 5432);
  EXPECT_EQ(s->dbname, "postgres");
  const UserConfig* u = c->find_user("app");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->method, AuthMethod::kScramSha256);
  EXPECT_TRUE(u->all_tenants);
  EXPECT_EQ(c->find_user("nobody"), nullptr);
  EXPECT_EQ(c->find_shard("s9"), nullptr);
  EXPECT_EQ(c->find_tier("gold"), nullptr);
}

// The example from SPEC.md, verbatim apart from the secrets it reads.
constexpr const char* kSpecExample = R"(listen: 0.0.0.0:6432
admin:
  socket_dir: /run/shardgate
  port: 6432
  listen: null
metrics:
  listen: 127.0.0.1:9187
  per_tenant_series: 1000
log: { level: info, format: json }
auth:
  users:
    - { name: app, password: "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy", tenants: "*" }
    - { name: acme_reports, password: env:SG_TEST_ACME_PW, tenants: [acme] }
tenant:
  sources: [options, user_suffix, session]
  user_separator: "."
  schema_template: "tenant_{tenant}"
shards:
  s1: { host: 10.0.0.1, port: 5432, dbname: app, user: shardgate, password: env:SG_TEST_S1_PW }
  s2: { host: 10.0.0.2, port: 5432, dbname: app, user: shardgate, password: env:SG_TEST_S1_PW }
tiers:
  free:       { pool: shared, pool_size: 20, pool_mode: transaction, isolation: shared,
                rate: { queries_per_second: 50, burst: 100, action: reject },
                max_client_connections: 20 }
  pro:        { pool: shared, pool_size: 40, pool_mode: transaction, weight: 2,
                max_server_connections_per_tenant: 10, role: "tenant_{tenant}",
                pool_timeout: 5s, guard: { allow_dynamic_sql: false },
                rate: { queries_per_second: 500, burst: 1000, action: throttle, max_delay: 200ms } }
  enterprise: { pool: dedicated, pool_size: 10, pool_mode: transaction, login: tenant }
guard:
  shared_schemas: [reference]
directory:
  file: /var/lib/shardgate/directory.yaml
  default_placement: reject
provisioning:
  schema_sql: |
    CREATE SCHEMA {schema};
    CREATE TABLE {schema}.items (id bigserial PRIMARY KEY, body text);
)";

class ConfigEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SG_TEST_ACME_PW", "acme-secret", 1);
    setenv("SG_TEST_S1_PW", "s1-secret", 1);
  }
  void TearDown() override {
    unsetenv("SG_TEST_ACME_PW");
    unsetenv("SG_TEST_S1_PW");
  }
};

TEST_F(ConfigEnv, ConfigParsesSpecExample) {
  auto c = parse_config(kSpecExample, "spec.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin.socket_dir, "/run/shardgate");
  EXPECT_FALSE(c->admin.listen.has_value());
  ASSERT_TRUE(c->metrics.listen.has_value());
  EXPECT_EQ(c->metrics.listen->host, "127.0.0.1");
  EXPECT_EQ(c->metrics.listen->port, 9187);
  ASSERT_EQ(c->users.size(), 2u);
  EXPECT_EQ(c->users[1].password, "acme-secret");
  EXPECT_FALSE(c->users[1].all_tenants);
  EXPECT_EQ(c->users[1].tenants, std::vector<std::string>{"acme"});
  EXPECT_EQ(c->find_shard("s1")->password, "s1-secret");
  EXPECT_EQ(c->find_shard("s2")->host, "10.0.0.2");
  EXPECT_EQ(c->find_shard("s2")->dbname, "app");
  ASSERT_EQ(c->tiers.size(), 3u);
  const TierConfig& free = *c->find_tier("free");
  EXPECT_EQ(free.isolation, Isolation::kShared);
  EXPECT_EQ(free.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(free.rate.queries_per_second, 50);
  EXPECT_EQ(free.rate.burst, 100);
  EXPECT_EQ(free.rate.action, RateAction::kReject);
  EXPECT_EQ(free.max_client_connections, 20);
  const TierConfig& pro = *c->find_tier("pro");
  EXPECT_EQ(pro.weight, 2);
  EXPECT_EQ(pro.max_server_connections_per_tenant, 10);
  EXPECT_EQ(pro.role, "tenant_{tenant}");
  EXPECT_EQ(pro.pool_timeout, Duration(5000));
  EXPECT_FALSE(pro.allow_dynamic_sql);
  EXPECT_EQ(pro.rate.action, RateAction::kThrottle);
  EXPECT_EQ(pro.rate.max_delay, Duration(200));
  const TierConfig& ent = *c->find_tier("enterprise");
  EXPECT_EQ(ent.pool, PoolKind::kDedicated);
  EXPECT_EQ(ent.login, Login::kTenant);
  EXPECT_EQ(ent.role, "tenant_{tenant}");  // login: tenant defaults the role
  EXPECT_EQ(c->guard.shared_schemas, std::vector<std::string>{"reference"});
  EXPECT_EQ(c->directory.file, "/var/lib/shardgate/directory.yaml");
  EXPECT_TRUE(c->directory.default_placement.reject);
  EXPECT_THAT(c->provisioning.schema_sql, HasSubstr("CREATE TABLE {schema}.items"));
}

TEST(ConfigLoad, AllScalarKeys) {
  auto c = parse(R"(listen: "127.0.0.1:7000"
workers: 4
connect_timeout: 2s
shutdown_timeout: 1m
admin: { socket_dir: /tmp/x, port: 7001, listen: ":7002", user: root, password: pw, audit_log: /tmp/a.log }
metrics: { listen: "[::1]:9000", per_tenant_series: 5 }
log: { level: debug, format: text }
tenant: { user_separator: "@", schema_template: "t_{tenant}_s" }
guard: { shared_schemas: [ref, lookup] }
provisioning: { schema_sql: "CREATE SCHEMA {schema}" }
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen.host, "127.0.0.1");
  EXPECT_EQ(c->listen.port, 7000);
  EXPECT_EQ(c->workers, 4);
  EXPECT_EQ(c->connect_timeout, Duration(2000));
  EXPECT_EQ(c->shutdown_timeout, Duration(60000));
  EXPECT_EQ(c->admin.port, 7001);
  ASSERT_TRUE(c->admin.listen.has_value());
  EXPECT_EQ(c->admin.listen->host, "0.0.0.0");
  EXPECT_EQ(c->admin.listen->port, 7002);
  EXPECT_EQ(c->admin.user, "root");
  EXPECT_EQ(c->admin.password, "pw");
  EXPECT_EQ(c->admin.audit_log, "/tmp/a.log");
  EXPECT_EQ(c->metrics.listen->host, "::1");
  EXPECT_EQ(c->metrics.per_tenant_series, 5);
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, LogFormat::kText);
  EXPECT_EQ(c->tenant.user_separator, "@");
  EXPECT_EQ(c->tenant.schema_template, "t_{tenant}_s");
  EXPECT_EQ(c->guard.shared_schemas.size(), 2u);
  EXPECT_EQ(c->provisioning.schema_sql, "CREATE SCHEMA {schema}");
}

TEST(ConfigLoad, TierKeysAndDefaults) {
  auto c = parse(R"(tiers:
  t1: { pool: dedicated, pool_size: 5, min_pool_size: 2, pool_mode: session, isolation: database,
        weight: 3, pipeline_depth: 4, max_client_connections: 7, role: "r_{tenant}", login: proxy,
        pool_timeout: 0, server_idle_timeout: 1m, server_lifetime: 2h, slow_query_threshold: 250, guard: { allow_dynamic_sql: yes },
        tenant_series: always,
        rate: { queries_per_second: 1.5, burst: 3, action: throttle, max_delay: 1s } }
  t2: {}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  const TierConfig& t1 = *c->find_tier("t1");
  EXPECT_EQ(t1.pool, PoolKind::kDedicated);
  EXPECT_EQ(t1.pool_size, 5);
  EXPECT_EQ(t1.min_pool_size, 2);
  EXPECT_EQ(t1.pool_mode, PoolMode::kSession);
  EXPECT_EQ(t1.isolation, Isolation::kDatabase);
  EXPECT_EQ(t1.weight, 3);
  EXPECT_EQ(t1.pipeline_depth, 4);
  EXPECT_EQ(t1.max_client_connections, 7);
  EXPECT_FALSE(t1.max_server_connections_per_tenant.has_value());
  EXPECT_EQ(t1.role, "r_{tenant}");
  EXPECT_EQ(t1.pool_timeout, Duration(0));
  EXPECT_EQ(t1.slow_query_threshold, Duration(250));
  EXPECT_EQ(t1.tenant_series, TenantSeries::kAlways);
  EXPECT_EQ(t1.server_idle_timeout, Duration(60000));
  EXPECT_EQ(t1.server_lifetime, Duration(7200000));
  EXPECT_TRUE(t1.allow_dynamic_sql);
  EXPECT_DOUBLE_EQ(t1.rate.queries_per_second, 1.5);
  EXPECT_EQ(t1.rate.max_delay, Duration(1000));
  const TierConfig& t2 = *c->find_tier("t2");
  EXPECT_EQ(t2.pool_size, 20);
  EXPECT_EQ(t2.pipeline_depth, 16);  // on by default (transaction mode only)
  EXPECT_EQ(t2.pool_timeout, Duration(30000));
  EXPECT_EQ(t2.server_idle_timeout, Duration(600000));
  EXPECT_EQ(t2.server_lifetime, Duration(3600000));
  EXPECT_EQ(t2.rate.queries_per_second, 0);
  EXPECT_EQ(t2.tenant_series, TenantSeries::kAuto);
  EXPECT_EQ(c->find_tier("default"), nullptr);  // only when no tiers are configured
}

TEST(ConfigLoad, DatabaseIsTenantAddsDatabaseSource) {
  auto c = parse("tenant: { database_is_tenant: true }\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tenant.sources,
            (std::vector<TenantSource>{TenantSource::kOptions, TenantSource::kUserSuffix,
                                       TenantSource::kDatabase, TenantSource::kSession}));
  auto explicit_order =
      parse("tenant: { database_is_tenant: true, sources: [database, search_path] }\n");
  ASSERT_TRUE(explicit_order.ok()) << explicit_order.status();
  EXPECT_EQ(explicit_order->tenant.sources,
            (std::vector<TenantSource>{TenantSource::kDatabase, TenantSource::kSearchPath}));
}

TEST(ConfigLoad, DefaultPlacementHash) {
  auto c = parse(R"(shards:
  s1: { host: a }
  s2: { host: b }
)");
  // kBase already defines shards: duplicate top-level key.
  EXPECT_THAT(error_of(c), StartsWith("t.yaml:5: shards: duplicate key"));

  auto ok = parse_config(R"(shards: { s1: { host: a }, s2: { host: b } }
auth: { users: [ { name: app, password: x, tenants: "*" } ] }
tiers: { free: {}, pro: {} }
directory: { default_placement: { hash: [s2, s1], tier: free } }
)",
                         "h.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->directory.default_placement.reject);
  EXPECT_EQ(ok->directory.default_placement.hash_shards, (std::vector<std::string>{"s2", "s1"}));
  EXPECT_EQ(ok->directory.default_placement.tier, "free");

  auto single_tier = parse("directory: { default_placement: { hash: [s1] } }\n");
  ASSERT_TRUE(single_tier.ok()) << single_tier.status();
  EXPECT_EQ(single_tier->directory.default_placement.tier, "default");
}

TEST(ConfigLoad, AuthMethodAndPasswordCombinations) {
  const std::string md5 = "md5" + std::string(32, 'a');
  const std::string scram = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
  struct Case {
    std::string auth;
    std::string password;  // empty = key omitted
    bool ok;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"scram-sha-256", "plain-pw", true, ""},
      {"scram-sha-256", scram, true, ""},
      {"scram-sha-256", md5, false, "scram-sha-256 cannot use an md5 hash"},
      {"md5", "plain-pw", true, ""},
      {"md5", md5, true, ""},
      {"md5", scram, false, "md5 cannot use a SCRAM-SHA-256 verifier"},
      {"plain", "plain-pw", true, ""},
      {"plain", md5, true, ""},
      {"plain", scram, true, ""},
      {"trust", "", true, ""},
      {"trust", "pw", false, "takes no password"},
      {"md5", "", false, "needs a password"},
      {"scram-sha-256", "", false, "needs a password"},
      {"scram-sha-256", "SCRAM-SHA-256$x", false, "malformed SCRAM verifier"},
      {"kerberos", "pw", false, "\"kerberos\" is not one of: scram-sha-256, md5, plain, trust"},
  };
  for (const auto& tc : cases) {
    std::string user = "{ name: u, auth: " + tc.auth + ", tenants: [a]";
    if (!tc.password.empty()) user += ", password: \"" + tc.password + "\"";
    user += " }";
    auto c = parse_config("shards: { s1: {} }\nauth:\n  users:\n    - " + user + "\n", "a.yaml");
    EXPECT_EQ(c.ok(), tc.ok) << tc.auth << " / " << tc.password << ": " << error_of(c);
    if (!tc.ok) {
      EXPECT_THAT(error_of(c), StartsWith("a.yaml:4: auth.users[0]."));
      EXPECT_THAT(error_of(c), HasSubstr(tc.error));
      if (tc.password.size() > 3) {
        EXPECT_THAT(error_of(c), Not(HasSubstr(tc.password)));
      }
    }
  }
}

TEST(ConfigLoad, UserTenantsAllowList) {
  auto c = parse_config(R"(shards: { s1: {} }
auth:
  users:
    - { name: a, password: x, tenants: "*" }
    - { name: b, password: x, tenants: [acme, globex] }
    - { name: c, password: x, tenants: ["*"] }
    - { name: d, password: x, tenants: [] }
)",
                        "u.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->find_user("a")->all_tenants);
  EXPECT_FALSE(c->find_user("b")->all_tenants);
  EXPECT_EQ(c->find_user("b")->tenants, (std::vector<std::string>{"acme", "globex"}));
  EXPECT_TRUE(c->find_user("c")->all_tenants);
  EXPECT_FALSE(c->find_user("d")->all_tenants);
  EXPECT_TRUE(c->find_user("d")->tenants.empty());
}

struct ErrorCase {
  const char* name;
  std::string extra;     // appended to kBase (which is 4 lines)
  std::string expected;  // prefix of the error message
};

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, NamesFileLineAndKey) {
  auto c = parse(GetParam().extra);
  ASSERT_FALSE(c.ok()) << GetParam().name;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(error_of(c), StartsWith(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    ConfigTable, ConfigErrors,
    ::testing::Values(
        ErrorCase{"unknown_top", "lisen: 1.2.3.4:5\n",
                  "t.yaml:5: lisen: unknown key \"lisen\" (did you mean \"listen\"?)"},
        ErrorCase{"unknown_nested", "log:\n  level: info\n  fromat: json\n",
                  "t.yaml:7: log.fromat: unknown key \"fromat\" (did you mean \"format\"?)"},
        ErrorCase{"unknown_far", "log: { zzzzzzzz: 1 }\n",
                  "t.yaml:5: log.zzzzzzzz: unknown key \"zzzzzzzz\"; allowed keys: level, format"},
        ErrorCase{"bad_listen", "listen: nowhere\n",
                  "t.yaml:5: listen: \"nowhere\" is not host:port"},
        ErrorCase{"bad_port", "listen: \"h:70000\"\n", "t.yaml:5: listen: "},
        ErrorCase{"workers_range", "workers: -1\n", "t.yaml:5: workers: -1 is out of range"},
        ErrorCase{"workers_text", "workers: many\n", "t.yaml:5: workers: \"many\" is not a whole"},
        ErrorCase{"bad_duration", "connect_timeout: 5 parsecs\n",
                  "t.yaml:5: connect_timeout: \"5 parsecs\" is not a duration"},
        ErrorCase{"zero_connect", "connect_timeout: 0\n",
                  "t.yaml:5: connect_timeout: must be greater than 0"},
        ErrorCase{
            "log_level", "log: { level: verbose }\n",
            "t.yaml:5: log.level: \"verbose\" is not one of: trace, debug, info, warn, error"},
        ErrorCase{"admin_tcp_no_pw", "admin:\n  listen: 127.0.0.1:7000\n",
                  "t.yaml:6: admin.listen: a TCP admin listener needs admin.password"},
        ErrorCase{"shard_name", "tiers: {}\nshards2: 1\n", "t.yaml:6: shards2: unknown key"},
        ErrorCase{"tier_name", "tiers:\n  \"gold tier\": {}\n",
                  "t.yaml:6: tiers.gold tier: tier names are"},
        ErrorCase{"tier_key", "tiers:\n  pro: { pool_sise: 3 }\n",
                  "t.yaml:6: tiers.pro.pool_sise: unknown key \"pool_sise\" (did you mean "
                  "\"pool_size\"?)"},
        ErrorCase{"tier_pool", "tiers:\n  pro:\n    pool: private\n",
                  "t.yaml:7: tiers.pro.pool: \"private\" is not one of: shared, dedicated"},
        ErrorCase{"min_pool", "tiers:\n  pro: { pool_size: 2, min_pool_size: 3 }\n",
                  "t.yaml:6: tiers.pro.min_pool_size: must not exceed pool_size (2)"},
        ErrorCase{"pipeline_depth", "tiers:\n  pro: { pipeline_depth: 17 }\n",
                  "t.yaml:6: tiers.pro.pipeline_depth: 17 is out of range (1..16)"},
        ErrorCase{"rate_action", "tiers:\n  pro:\n    rate:\n      action: drop\n",
                  "t.yaml:8: tiers.pro.rate.action: \"drop\" is not one of: throttle, reject"},
        ErrorCase{"rate_key", "tiers:\n  pro:\n    rate: { qps: 5 }\n",
                  "t.yaml:7: tiers.pro.rate.qps: unknown key"},
        ErrorCase{"rate_negative", "tiers:\n  pro:\n    rate: { burst: -5 }\n",
                  "t.yaml:7: tiers.pro.rate.burst: -5 is out of range"},
        ErrorCase{"guard_key", "tiers:\n  pro:\n    guard: { allow_dynamic: true }\n",
                  "t.yaml:7: tiers.pro.guard.allow_dynamic: unknown key"},
        ErrorCase{"guard_bool", "tiers:\n  pro:\n    guard: { allow_dynamic_sql: maybe }\n",
                  "t.yaml:7: tiers.pro.guard.allow_dynamic_sql: \"maybe\" is not true or false"},
        ErrorCase{"login_shared", "tiers:\n  e: { login: tenant, pool: shared }\n",
                  "t.yaml:6: tiers.e.pool: login: tenant needs pool: dedicated"},
        ErrorCase{"schema_template", "tenant: { schema_template: app }\n",
                  "t.yaml:5: tenant.schema_template: must contain {tenant}"},
        ErrorCase{"source_name", "tenant:\n  sources: [options, cookie]\n",
                  "t.yaml:6: tenant.sources[1]: \"cookie\" is not one of"},
        ErrorCase{"source_twice", "tenant:\n  sources: [options, options]\n",
                  "t.yaml:6: tenant.sources[1]: listed twice"},
        ErrorCase{"sources_empty", "tenant:\n  sources: []\n",
                  "t.yaml:6: tenant.sources: at least one source is required"},
        ErrorCase{"db_source_off", "tenant:\n  sources: [database]\n",
                  "t.yaml:6: tenant.sources: lists database but tenant.database_is_tenant is "
                  "false"},
        ErrorCase{"db_tenant_unlisted",
                  "tenant:\n  sources: [options]\n  database_is_tenant: true\n",
                  "t.yaml:7: tenant.database_is_tenant: is true but tenant.sources does not list "
                  "database"},
        ErrorCase{"hash_unknown_shard", "directory:\n  default_placement: { hash: [s1, s9] }\n",
                  "t.yaml:6: directory.default_placement.hash[1]: shard \"s9\" is not defined"},
        ErrorCase{"hash_unknown_tier",
                  "directory:\n  default_placement: { hash: [s1], tier: gold }\n",
                  "t.yaml:6: directory.default_placement.tier: tier \"gold\" is not defined"},
        ErrorCase{"hash_empty", "directory:\n  default_placement: { hash: [] }\n",
                  "t.yaml:6: directory.default_placement.hash: list the shards"},
        ErrorCase{"hash_tier_needed",
                  "tiers: { a: {}, b: {} }\ndirectory:\n  default_placement: { hash: [s1] }\n",
                  "t.yaml:7: directory.default_placement.tier: required when more than one tier"},
        ErrorCase{"placement_word", "directory: { default_placement: random }\n",
                  "t.yaml:5: directory.default_placement: expected reject or"},
        ErrorCase{"guard_list", "guard: { shared_schemas: reference }\n",
                  "t.yaml:5: guard.shared_schemas: expected a list"},
        ErrorCase{"section_type", "metrics: [1, 2]\n", "t.yaml:5: metrics: expected a mapping"},
        ErrorCase{"yaml_syntax", "log: { level: info\n", "t.yaml:"},
        ErrorCase{"provisioning_empty", "provisioning: { schema_sql: \"\" }\n",
                  "t.yaml:5: provisioning.schema_sql: must not be empty"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(ConfigLoad, StructuralErrors) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"auth: { users: [ { name: a, password: x, tenants: '*' } ] }\n",
       "c.yaml:1: shards: at least one shard is required"},
      {"shards: {}\nauth: { users: [ { name: a, password: x, tenants: '*' } ] }\n",
       "c.yaml:1: shards: at least one shard is required"},
      {"shards: { s1: {} }\n", "c.yaml:1: auth.users: at least one user is required"},
      {"shards: { \"s/1\": {} }\n", "c.yaml:1: shards.s/1: shard names are"},
      {"shards:\n  s1:\n    host: a\n    prot: 5432\n",
       "c.yaml:4: shards.s1.prot: unknown key \"prot\" (did you mean \"port\"?)"},
      {"shards:\n  s1: { port: 0 }\n", "c.yaml:2: shards.s1.port: 0 is out of range (1..65535)"},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { password: x, tenants: '*' }\n",
       "c.yaml:4: auth.users[0].name: missing"},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { name: a, password: x }\n",
       "c.yaml:4: auth.users[0].tenants: missing for user \"a\""},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { name: a, password: x, tenants: any }\n",
       "c.yaml:4: auth.users[0].tenants: expected \"*\""},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { name: a, password: x, tenants: [\"a b\"] }\n",
       "c.yaml:4: auth.users[0].tenants[0]: \"a b\" is not a valid tenant ID"},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { name: a, password: x, tenants: '*' }\n"
       "    - { name: a, password: y, tenants: '*' }\n",
       "c.yaml:5: auth.users[1].name: user \"a\" is defined twice"},
      {"shards: { s1: {} }\nauth:\n  users:\n    - { name: a, password: x, tenants: '*', "
       "role: r }\n",
       "c.yaml:4: auth.users[0].role: unknown key"},
      {"- 1\n- 2\n", "c.yaml:1: (top level): the config must be a mapping"},
  };
  for (const auto& tc : cases) {
    auto c = parse_config(tc.yaml, "c.yaml");
    EXPECT_THAT(error_of(c), StartsWith(tc.expected)) << tc.yaml;
  }
}

TEST(ConfigLoad, EnvSecrets) {
  unsetenv("SG_TEST_MISSING");
  auto missing = parse("admin: { password: env:SG_TEST_MISSING }\n");
  EXPECT_THAT(error_of(missing),
              StartsWith("t.yaml:5: admin.password: environment variable SG_TEST_MISSING is not "
                         "set"));
  setenv("SG_TEST_ADMIN", "hunter2", 1);
  auto set = parse("admin: { password: env:SG_TEST_ADMIN }\n");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->admin.password, "hunter2");
  unsetenv("SG_TEST_ADMIN");

  auto bad_name = parse("admin: { password: \"env:1X\" }\n");
  EXPECT_THAT(error_of(bad_name), StartsWith("t.yaml:5: admin.password: \"env:1X\" does not name"));

  // A secret resolved from the environment is validated but never printed.
  setenv("SG_TEST_SCRAM", "SCRAM-SHA-256$broken-verifier-value", 1);
  auto bad = parse_config(
      "shards: { s1: {} }\nauth: { users: [ { name: a, password: env:SG_TEST_SCRAM, "
      "tenants: '*' } ] }\n",
      "e.yaml");
  EXPECT_THAT(error_of(bad), StartsWith("e.yaml:2: auth.users[0].password: malformed SCRAM"));
  EXPECT_THAT(error_of(bad), Not(HasSubstr("broken-verifier-value")));
  unsetenv("SG_TEST_SCRAM");

  setenv("SG_TEST_S", "shard-pw", 1);
  auto shard = parse_config(
      "shards: { s1: { password: env:SG_TEST_S } }\nauth: { users: [ { name: a, auth: trust, "
      "tenants: '*' } ] }\n",
      "e.yaml");
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->find_shard("s1")->password, "shard-pw");
  unsetenv("SG_TEST_S");
}

TEST(ConfigLoad, ResolveSecret) {
  EXPECT_EQ(*resolve_secret("plain", "w"), "plain");
  EXPECT_EQ(*resolve_secret("", "w"), "");
  setenv("SG_TEST_EMPTY", "", 1);
  EXPECT_EQ(*resolve_secret("env:SG_TEST_EMPTY", "w"), "");
  unsetenv("SG_TEST_EMPTY");
  auto r = resolve_secret("env:SG_TEST_NOPE", "f.yaml:3: k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "f.yaml:3: k: environment variable SG_TEST_NOPE is not set (export it before "
            "starting shardgate)");
  EXPECT_FALSE(resolve_secret("env:", "w").ok());
  EXPECT_FALSE(resolve_secret("env:A-B", "w").ok());
}

TEST(ConfigLoad, ParseDuration) {
  struct Case {
    std::string text;
    std::optional<int64_t> ms;
  };
  const std::vector<Case> cases = {
      {"5s", 5000},
      {"200ms", 200},
      {"1m", 60000},
      {"2min", 120000},
      {"1h", 3600000},
      {"250", 250},
      {"0", 0},
      {" 7s ", 7000},
      {"3 s", 3000},
      {"", std::nullopt},
      {"s", std::nullopt},
      {"-5s", std::nullopt},
      {"1.5s", std::nullopt},
      {"5sec", std::nullopt},
      {"5S", std::nullopt},
      {"9999999999999s", std::nullopt},
  };
  for (const auto& tc : cases) {
    auto d = parse_duration(tc.text);
    ASSERT_EQ(d.has_value(), tc.ms.has_value()) << tc.text;
    if (d) {
      EXPECT_EQ(d->count(), *tc.ms) << tc.text;
    }
  }
}

TEST(ConfigLoad, ValidTenantId) {
  EXPECT_TRUE(valid_tenant_id("acme"));
  EXPECT_TRUE(valid_tenant_id("A-b_9"));
  EXPECT_TRUE(valid_tenant_id(std::string(63, 'x')));
  EXPECT_FALSE(valid_tenant_id(std::string(64, 'x')));
  EXPECT_FALSE(valid_tenant_id(""));
  EXPECT_FALSE(valid_tenant_id("a.b"));
  EXPECT_FALSE(valid_tenant_id("a b"));
  EXPECT_FALSE(valid_tenant_id("é"));
  EXPECT_FALSE(valid_tenant_id(std::string("a\0b", 3)));
}

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("sg_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFiles, LoadResolvesDirectoryFileAgainstConfigFolder) {
  std::string path = write("sg.yaml", std::string(kBase) + "directory: { file: dir.yaml }\n");
  auto c = load_config_file(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source_file, path);
  EXPECT_EQ(c->directory.file, (dir_ / "dir.yaml").string());

  std::string abs = write("abs.yaml", std::string(kBase) + "directory: { file: /x/d.yaml }\n");
  EXPECT_EQ(load_config_file(abs)->directory.file, "/x/d.yaml");
}

TEST_F(ConfigFiles, LoadErrorsNameTheFile) {
  auto missing = load_config_file((dir_ / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.yaml"));
  std::string path = write("bad.yaml", std::string(kBase) + "workers: x\n");
  auto bad = load_config_file(path);
  EXPECT_THAT(error_of(bad), StartsWith(path + ":5: workers:"));
}

}  // namespace
}  // namespace shardgate::config
