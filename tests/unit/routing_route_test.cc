// routing/route: options parsing, identity resolution by source, allow-lists, routing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "routing/directory.h"
#include "routing/route.h"

namespace shardgate::routing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Settings = std::vector<std::pair<std::string, std::string>>;

config::Config make_config(const std::string& tenant_yaml = "", const std::string& extra = "") {
  auto c = config::parse_config(R"(shards: { s1: {}, s2: {}, s3: {} }
auth:
  users:
    - { name: app, password: x, tenants: "*" }
    - { name: reports, password: x, tenants: [acme, globex] }
    - { name: app.admin, password: x, tenants: "*" }
tiers: { free: { isolation: shared }, pro: { role: "tenant_{tenant}" } }
)" + tenant_yaml + extra,
                                "r.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// ---- parse_options ------------------------------------------------------------------------

TEST(RoutingOptions, ParsesPostgresForms) {
  struct Case {
    std::string options;
    bool ok;
    Settings settings;
  };
  const std::vector<Case> cases = {
      {"", true, {}},
      {"   \t ", true, {}},
      {"-c shardgate.tenant=acme", true, {{"shardgate.tenant", "acme"}}},
      {"-cshardgate.tenant=acme", true, {{"shardgate.tenant", "acme"}}},
      {"--shardgate.tenant=acme", true, {{"shardgate.tenant", "acme"}}},
      {"  -c  a=1   --b=2 -cc=3 ", true, {{"a", "1"}, {"b", "2"}, {"c", "3"}}},
      {"-c search_path=a\\,\\ b", true, {{"search_path", "a, b"}}},
      {"-c application_name=my\\ app", true, {{"application_name", "my app"}}},
      {"-c a=back\\\\slash", true, {{"a", "back\\slash"}}},
      {"-c a=x\\", true, {{"a", "x"}}},  // trailing lone backslash dropped, as in PostgreSQL
      {"-c a=", true, {{"a", ""}}},
      {"-c a=b=c", true, {{"a", "b=c"}}},
      {"--statement-timeout=5s", true, {{"statement_timeout", "5s"}}},     // '-' reads as '_'
      {"-c ShardGate.Tenant=Acme", true, {{"shardgate.tenant", "Acme"}}},  // names fold case
      {"-c\ta=1\n-c\rb=2", true, {{"a", "1"}, {"b", "2"}}},
      {"-c", false, {}},
      {"-c a", false, {}},
      {"-c =x", false, {}},
      {"--a", false, {}},
      {"--", false, {}},
      {"-B 100", false, {}},
      {"shardgate.tenant=acme", false, {}},
      {"-c a=1 junk", false, {}},
      {"-c a\\ b=1", false, {}},  // names are identifiers
      {"-c a;b=1", false, {}},
  };
  for (const auto& tc : cases) {
    ParsedOptions p = parse_options(tc.options);
    EXPECT_EQ(p.ok, tc.ok) << "[" << tc.options << "]";
    if (tc.ok) {
      EXPECT_EQ(p.settings, tc.settings) << "[" << tc.options << "]";
    } else {
      EXPECT_TRUE(p.settings.empty());
    }
  }
}

TEST(RoutingOptions, Bounded) {
  std::string many;
  for (int i = 0; i < 64; ++i) many += "-c a" + std::to_string(i) + "=1 ";
  EXPECT_TRUE(parse_options(many).ok);
  EXPECT_EQ(parse_options(many).settings.size(), 64u);
  EXPECT_FALSE(parse_options(many + "-c one=more").ok);
  EXPECT_FALSE(parse_options(std::string(70000, 'x')).ok);
  EXPECT_FALSE(parse_options(std::string(300, ' ') + "-c" + std::string(300, 'n') + "=1").ok);
}

TEST(RoutingOptions, FormatRoundTrips) {
  const Settings settings = {{"application_name", "my app"},
                             {"search_path", "a,\tb"},
                             {"x", "back\\slash\\"},
                             {"empty", ""},
                             {"eq", "a=b"}};
  std::string text = format_options(settings);
  EXPECT_EQ(text.substr(0, 28), "-c application_name=my\\ app ");
  ParsedOptions back = parse_options(text);
  ASSERT_TRUE(back.ok) << text;
  EXPECT_EQ(back.settings, settings);
  EXPECT_EQ(format_options({}), "");
}

// ---- resolve_identity ---------------------------------------------------------------------

struct IdentityCase {
  const char* name;
  std::string tenant_yaml;
  StartupIdentity startup;
  // Expected success...
  std::string login_user;
  std::optional<std::string> tenant;
  std::string source;
  // ...or error (sqlstate non-empty).
  std::string sqlstate = "";
  std::string message = "";
};

class RouteIdentity : public ::testing::TestWithParam<IdentityCase> {};

TEST_P(RouteIdentity, Resolves) {
  const IdentityCase& tc = GetParam();
  auto config = make_config(tc.tenant_yaml);
  auto result = resolve_identity(tc.startup, config);
  if (!tc.sqlstate.empty()) {
    ASSERT_TRUE(std::holds_alternative<RouteError>(result));
    const auto& e = std::get<RouteError>(result);
    EXPECT_EQ(e.sqlstate, tc.sqlstate);
    EXPECT_THAT(e.message, HasSubstr(tc.message));
    EXPECT_FALSE(e.hint.empty());
    return;
  }
  ASSERT_TRUE(std::holds_alternative<Identity>(result)) << std::get<RouteError>(result).message;
  const auto& id = std::get<Identity>(result);
  EXPECT_EQ(id.login_user, tc.login_user);
  EXPECT_EQ(id.tenant, tc.tenant);
  EXPECT_EQ(id.source, tc.source);
}

const char* kDbTenant = "tenant: { database_is_tenant: true }\n";
const char* kSuffixFirst = "tenant: { sources: [user_suffix, options] }\n";
const char* kOptionsOnly = "tenant: { sources: [options] }\n";
const char* kSuffixOnly = "tenant: { sources: [user_suffix, session] }\n";
const char* kAtSign = "tenant: { user_separator: \"@\" }\n";

INSTANTIATE_TEST_SUITE_P(
    RouteTable, RouteIdentity,
    ::testing::Values(
        IdentityCase{"none", "", {"app", "app", ""}, "app", std::nullopt, ""},
        IdentityCase{
            "options", "", {"app", "db", "-c shardgate.tenant=acme"}, "app", "acme", "options"},
        IdentityCase{
            "options_long", "", {"app", "db", "--shardgate.tenant=acme"}, "app", "acme", "options"},
        IdentityCase{"suffix", "", {"app.acme", "db", ""}, "app", "acme", "user_suffix"},
        IdentityCase{"suffix_last_separator",
                     "",
                     {"app.admin.acme", "db", ""},
                     "app.admin",
                     "acme",
                     "user_suffix"},
        IdentityCase{"configured_user_not_split",
                     "",
                     {"app.admin", "db", ""},
                     "app.admin",
                     std::nullopt,
                     ""},
        IdentityCase{
            "unknown_prefix_not_split", "", {"bob.acme", "db", ""}, "bob.acme", std::nullopt, ""},
        IdentityCase{"empty_suffix_not_split", "", {"app.", "db", ""}, "app.", std::nullopt, ""},
        IdentityCase{
            "custom_separator", kAtSign, {"app@acme", "db", ""}, "app", "acme", "user_suffix"},
        IdentityCase{
            "dot_with_at_separator", kAtSign, {"app.acme", "db", ""}, "app.acme", std::nullopt, ""},
        IdentityCase{"suffix_with_options_agree",
                     "",
                     {"app.acme", "db", "-c shardgate.tenant=acme"},
                     "app",
                     "acme",
                     "options"},
        IdentityCase{"suffix_first_order",
                     kSuffixFirst,
                     {"app.acme", "db", "-c shardgate.tenant=acme"},
                     "app",
                     "acme",
                     "user_suffix"},
        IdentityCase{
            "suffix_disabled", kOptionsOnly, {"app.acme", "db", ""}, "app.acme", std::nullopt, ""},
        IdentityCase{"database", kDbTenant, {"app", "acme", ""}, "app", "acme", "database"},
        IdentityCase{
            "database_equal_user_ignored", kDbTenant, {"app", "app", ""}, "app", std::nullopt, ""},
        IdentityCase{"database_off_by_default", "", {"app", "acme", ""}, "app", std::nullopt, ""},
        IdentityCase{"database_after_suffix",
                     kDbTenant,
                     {"app.acme", "acme", ""},
                     "app",
                     "acme",
                     "user_suffix"},
        IdentityCase{"passthrough",
                     "",
                     {"app", "db", "-c application_name=x -c shardgate.tenant=acme"},
                     "app",
                     "acme",
                     "options"},
        // Errors.
        IdentityCase{"conflict_options_suffix",
                     "",
                     {"app.globex", "db", "-c shardgate.tenant=acme"},
                     "",
                     std::nullopt,
                     "",
                     "28000",
                     "conflicting tenants"},
        IdentityCase{"conflict_database",
                     kDbTenant,
                     {"app.acme", "globex", ""},
                     "",
                     std::nullopt,
                     "",
                     "28000",
                     "conflicting tenants"},
        IdentityCase{"conflict_repeated_option",
                     "",
                     {"app", "db", "-c shardgate.tenant=a -c shardgate.tenant=b"},
                     "",
                     std::nullopt,
                     "",
                     "28000",
                     "conflicting tenants"},
        IdentityCase{"options_source_disabled",
                     kSuffixOnly,
                     {"app", "db", "-c shardgate.tenant=acme"},
                     "",
                     std::nullopt,
                     "",
                     "28000",
                     "startup options is disabled"},
        IdentityCase{"invalid_option_tenant",
                     "",
                     {"app", "db", "-c shardgate.tenant=a.b"},
                     "",
                     std::nullopt,
                     "",
                     "3D000",
                     "\"a.b\" (from the startup option"},
        IdentityCase{"empty_option_tenant",
                     "",
                     {"app", "db", "-c shardgate.tenant="},
                     "",
                     std::nullopt,
                     "",
                     "3D000",
                     "is not a valid tenant ID"},
        IdentityCase{"invalid_suffix_tenant",
                     kAtSign,
                     {"app@a b", "db", ""},
                     "",
                     std::nullopt,
                     "",
                     "3D000",
                     "(from the user name)"},
        IdentityCase{"invalid_database_tenant",
                     kDbTenant,
                     {"app", "my db", ""},
                     "",
                     std::nullopt,
                     "",
                     "3D000",
                     "(from the database name)"},
        IdentityCase{"unknown_shardgate_setting",
                     "",
                     {"app", "db", "-c shardgate.tenat=acme"},
                     "",
                     std::nullopt,
                     "",
                     "42704",
                     "shardgate.tenat"},
        IdentityCase{"malformed_options",
                     "",
                     {"app", "db", "-x"},
                     "",
                     std::nullopt,
                     "",
                     "42601",
                     "invalid startup parameter \"options\""}),
    [](const ::testing::TestParamInfo<IdentityCase>& info) {
      return std::string(info.param.name);
    });

TEST(RouteIdentityDetails, PassthroughOptionsExcludeShardgateSettings) {
  auto config = make_config();
  auto r = resolve_identity(
      {"app", "db", "-c application_name=x --statement_timeout=5s -c shardgate.tenant=acme"},
      config);
  ASSERT_TRUE(std::holds_alternative<Identity>(r));
  EXPECT_EQ(std::get<Identity>(r).passthrough_options,
            (Settings{{"application_name", "x"}, {"statement_timeout", "5s"}}));
}

TEST(RouteIdentityDetails, ErrorsDoNotEchoRawControlBytes) {
  auto config = make_config("tenant: { database_is_tenant: true }\n");
  auto r = resolve_identity({"app", std::string("x\x01\n\"y"), ""}, config);
  ASSERT_TRUE(std::holds_alternative<RouteError>(r));
  const auto& e = std::get<RouteError>(r);
  EXPECT_THAT(e.message, Not(HasSubstr("\x01")));
  EXPECT_THAT(e.message, Not(HasSubstr("\n")));
}

// ---- allow-lists --------------------------------------------------------------------------

TEST(RouteAllowList, ChecksUserTenants) {
  auto config = make_config();
  EXPECT_FALSE(check_tenant_allowed(*config.find_user("app"), "anyone").has_value());
  const auto& reports = *config.find_user("reports");
  EXPECT_FALSE(check_tenant_allowed(reports, "acme").has_value());
  EXPECT_FALSE(check_tenant_allowed(reports, "globex").has_value());
  auto e = check_tenant_allowed(reports, "initech");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->sqlstate, "42501");
  EXPECT_EQ(e->message, "user \"reports\" may not act for tenant \"initech\"");
  EXPECT_THAT(e->hint, HasSubstr("tenants list"));
  EXPECT_TRUE(check_tenant_allowed(reports, "ACME").has_value());  // IDs are case-sensitive
}

// ---- route_tenant -------------------------------------------------------------------------

TEST(RoutingRoute, RoutesKnownTenant) {
  auto config = make_config();
  Directory d;
  d.put("acme", Placement{"s2", "tenant_acme", "pro", config::Isolation::kSchema, "", {}, {}});
  auto r = route_tenant("acme", config, d);
  ASSERT_TRUE(std::holds_alternative<Route>(r));
  const Route& route = std::get<Route>(r);
  EXPECT_EQ(route.tenant, "acme");
  EXPECT_EQ(route.placement.shard, "s2");
  EXPECT_EQ(route.shard, config.find_shard("s2"));
  EXPECT_EQ(route.tier, config.find_tier("pro"));
}

TEST(RoutingRoute, UnknownTenantIsRejected) {
  auto config = make_config("", "directory: { file: /var/lib/sg/dir.yaml }\n");
  auto r = route_tenant("nobody", config, Directory{});
  ASSERT_TRUE(std::holds_alternative<RouteError>(r));
  const auto& e = std::get<RouteError>(r);
  EXPECT_EQ(e.sqlstate, "3D000");
  EXPECT_EQ(e.message, "tenant \"nobody\" is not in the shard directory");
  EXPECT_THAT(e.hint, HasSubstr("CREATE TENANT nobody"));
  EXPECT_THAT(e.hint, HasSubstr("/var/lib/sg/dir.yaml"));
}

TEST(RoutingRoute, InvalidTenantIsRejected) {
  auto config = make_config();
  auto r = route_tenant("a b", config, Directory{});
  ASSERT_TRUE(std::holds_alternative<RouteError>(r));
  EXPECT_EQ(std::get<RouteError>(r).sqlstate, "3D000");
}

TEST(RoutingRoute, DanglingPlacementNamesShardAndTier) {
  auto config = make_config();
  Directory d;
  d.put("a", Placement{"gone", "tenant_a", "pro", config::Isolation::kSchema, "", {}, {}});
  d.put("b", Placement{"s1", "tenant_b", "gold", config::Isolation::kSchema, "", {}, {}});
  auto ra = route_tenant("a", config, d);
  ASSERT_TRUE(std::holds_alternative<RouteError>(ra));
  EXPECT_THAT(std::get<RouteError>(ra).message, HasSubstr("shard \"gone\""));
  auto rb = route_tenant("b", config, d);
  ASSERT_TRUE(std::holds_alternative<RouteError>(rb));
  EXPECT_THAT(std::get<RouteError>(rb).message, HasSubstr("tier \"gold\""));
  EXPECT_THAT(std::get<RouteError>(rb).message, HasSubstr("shard \"s1\""));
}

TEST(RoutingRoute, StableHashIsFnv1a64) {
  EXPECT_EQ(stable_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(stable_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(RoutingRoute, HashDefaultPlacementIsStable) {
  auto config =
      make_config("", "directory: { default_placement: { hash: [s3, s1], tier: free } }\n");
  Directory d;
  d.put("acme", Placement{"s2", "tenant_acme", "pro", config::Isolation::kSchema, "", {}, {}});
  // Directory entries win over the default placement.
  EXPECT_EQ(std::get<Route>(route_tenant("acme", config, d)).placement.shard, "s2");
  int counts[2] = {0, 0};
  for (int i = 0; i < 200; ++i) {
    std::string tenant = "t" + std::to_string(i);
    auto r = route_tenant(tenant, config, d);
    ASSERT_TRUE(std::holds_alternative<Route>(r));
    const Route& route = std::get<Route>(r);
    const std::string expected = (stable_hash(tenant) % 2 == 0) ? "s3" : "s1";
    EXPECT_EQ(route.placement.shard, expected);
    EXPECT_EQ(route.placement.tier, "free");
    EXPECT_EQ(route.placement.schema, "tenant_" + tenant);
    EXPECT_EQ(route.placement.isolation, config::Isolation::kShared);
    EXPECT_EQ(route.tier, config.find_tier("free"));
    ++counts[route.placement.shard == "s3" ? 0 : 1];
    // Same answer every time.
    EXPECT_EQ(std::get<Route>(route_tenant(tenant, config, d)).placement.shard, expected);
  }
  EXPECT_GT(counts[0], 50);
  EXPECT_GT(counts[1], 50);
  // Pinned values: a change here would move existing tenants between shards.
  EXPECT_EQ(std::get<Route>(route_tenant("acme2", config, d)).placement.shard,
            stable_hash("acme2") % 2 == 0 ? "s3" : "s1");
}

// ---- no_tenant_error ----------------------------------------------------------------------

TEST(RouteNoTenant, ListsOnlyEnabledSources) {
  struct Case {
    std::string tenant_yaml;
    std::vector<std::string> present;
    std::vector<std::string> absent;
  };
  const std::vector<Case> cases = {
      {"",
       {"-c shardgate.tenant=<id>", "<user>.<id>", "SET shardgate.tenant"},
       {"database name", "search_path"}},
      {"tenant: { sources: [options] }\n",
       {"-c shardgate.tenant=<id>"},
       {"<user>.<id>", "SET shardgate.tenant", "database name"}},
      {"tenant: { database_is_tenant: true, sources: [database, user_suffix] }\n",
       {"the database name <id>", "<user>.<id>"},
       {"-c shardgate", "SET shardgate.tenant"}},
      {"tenant: { sources: [search_path], schema_template: \"s_{tenant}\" }\n",
       {"SET search_path TO s_<id>"},
       {"-c shardgate"}},
  };
  for (const auto& tc : cases) {
    auto config = make_config(tc.tenant_yaml);
    for (bool at_startup : {true, false}) {
      RouteError e = no_tenant_error(config, at_startup);
      EXPECT_EQ(e.sqlstate, "28000");
      EXPECT_THAT(e.message, HasSubstr("no tenant"));
      for (const auto& s : tc.present) EXPECT_THAT(e.hint, HasSubstr(s)) << tc.tenant_yaml;
      for (const auto& s : tc.absent) EXPECT_THAT(e.hint, Not(HasSubstr(s))) << tc.tenant_yaml;
    }
  }
  auto config = make_config();
  EXPECT_NE(no_tenant_error(config, true).message, no_tenant_error(config, false).message);
}

}  // namespace
}  // namespace shardgate::routing
