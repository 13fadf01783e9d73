// routing/directory: parsing, validation, defaults, format round-trip, file loading.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::routing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

config::Config make_config(const std::string& tiers = R"(tiers:
  free: { isolation: shared, rate: { queries_per_second: 50, burst: 100 } }
  pro: { role: "tenant_{tenant}" }
  ent: { isolation: database, pool: dedicated }
)") {
  auto c = config::parse_config(R"(shards: { s1: {}, s2: {}, eu-2: {} }
auth: { users: [ { name: app, password: x, tenants: "*" } ] }
)" + tiers,
                                "sg.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::string error_of(const absl::StatusOr<Directory>& d) {
  return d.ok() ? std::string("(ok)") : std::string(d.status().message());
}

TEST(RoutingDirectory, ExpandTemplate) {
  EXPECT_EQ(expand_template("tenant_{tenant}", "acme"), "tenant_acme");
  EXPECT_EQ(expand_template("{tenant}", "a"), "a");
  EXPECT_EQ(expand_template("{tenant}_{tenant}", "a"), "a_a");
  EXPECT_EQ(expand_template("fixed", "a"), "fixed");
  EXPECT_EQ(expand_template("{tenan}", "a"), "{tenan}");
  EXPECT_EQ(expand_template("", "a"), "");
}

TEST(RoutingDirectory, ParsesSpecExampleWithDefaults) {
  auto config = make_config(R"(tiers: { free: { isolation: shared }, pro: {}, enterprise: {} }
)");
  auto d = parse_directory(R"(tenants:
  acme:   { shard: s1, tier: pro }                      # schema from schema_template
  globex: { shard: s2, tier: enterprise, schema: globex }
  initech: { shard: s1, tier: free }
)",
                           "dir.yaml", config);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->size(), 3u);
  const Placement* acme = d->find("acme");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->shard, "s1");
  EXPECT_EQ(acme->tier, "pro");
  EXPECT_EQ(acme->schema, "tenant_acme");
  EXPECT_EQ(acme->isolation, config::Isolation::kSchema);
  EXPECT_FALSE(acme->rate.has_value());
  EXPECT_EQ(d->find("globex")->schema, "globex");
  EXPECT_EQ(d->find("initech")->isolation, config::Isolation::kShared);  // tier's isolation
  EXPECT_EQ(d->find("nobody"), nullptr);
  EXPECT_EQ(d->find(std::string_view("acme-long").substr(0, 4)), acme);  // string_view lookup
}

TEST(RoutingDirectory, EntryOverrides) {
  auto config = make_config();
  auto d = parse_directory(R"(tenants:
  a: { shard: s1, tier: free, rate: { queries_per_second: 5 }, max_client_connections: 3 }
  b: { shard: s2, tier: ent }
  c: { shard: eu-2, tier: ent, database: c_db }
  d: { shard: s1, tier: pro, isolation: database }
  e: { shard: s1, tier: ent, isolation: schema, schema: custom }
)",
                           "dir.yaml", config);
  ASSERT_TRUE(d.ok()) << d.status();
  const Placement& a = *d->find("a");
  ASSERT_TRUE(a.rate.has_value());
  EXPECT_EQ(a.rate->queries_per_second, 5);
  EXPECT_EQ(a.rate->burst, 100);  // the rest comes from the tier
  EXPECT_EQ(a.max_client_connections, 3);
  EXPECT_EQ(d->find("b")->isolation, config::Isolation::kDatabase);
  EXPECT_EQ(d->find("b")->database, "b");  // database isolation defaults to the tenant ID
  EXPECT_EQ(d->find("c")->database, "c_db");
  EXPECT_EQ(d->find("d")->isolation, config::Isolation::kDatabase);
  EXPECT_EQ(d->find("d")->database, "d");
  EXPECT_EQ(d->find("e")->isolation, config::Isolation::kSchema);
  EXPECT_EQ(d->find("e")->database, "");
  EXPECT_EQ(d->find("e")->schema, "custom");
}

TEST(RoutingDirectory, TierMayBeOmittedWithOneTier) {
  auto config = make_config("");
  auto d = parse_directory("tenants: { acme: { shard: s1 } }\n", "dir.yaml", config);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->find("acme")->tier, "default");
}

TEST(RoutingDirectory, EmptyDocuments) {
  auto config = make_config();
  for (const char* text : {"", "# nothing\n", "tenants:\n", "tenants: {}\n"}) {
    auto d = parse_directory(text, "dir.yaml", config);
    ASSERT_TRUE(d.ok()) << text << ": " << d.status();
    EXPECT_EQ(d->size(), 0u);
  }
}

TEST(RoutingDirectory, Errors) {
  auto config = make_config();
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"tenant:\n  a: {}\n",
       "dir.yaml:1: tenant: unknown key \"tenant\" (did you mean \"tenants\"?)"},
      {"tenants:\n  \"bad id\": { shard: s1, tier: pro }\n",
       "dir.yaml:2: tenants.bad id: \"bad id\" is not a valid tenant ID"},
      {"tenants:\n  " + std::string(64, 'x') + ": { shard: s1, tier: pro }\n",
       "dir.yaml:2: tenants." + std::string(64, 'x') + ": "},
      {"tenants:\n  a: { tier: pro }\n", "dir.yaml:2: tenants.a.shard: missing"},
      {"tenants:\n  a: { shard: s9, tier: pro }\n",
       "dir.yaml:2: tenants.a.shard: shard \"s9\" is not defined in the config (sg.yaml)"},
      {"tenants:\n  a: { shard: s1, tier: gold }\n",
       "dir.yaml:2: tenants.a.tier: tier \"gold\" is not defined in the config (tiers: ent, free, "
       "pro)"},
      {"tenants:\n  a: { shard: s1 }\n",
       "dir.yaml:2: tenants.a.tier: missing; the config has several tiers (ent, free, pro)"},
      {"tenants:\n  a: { shard: s1, tier: pro, shema: x }\n",
       "dir.yaml:2: tenants.a.shema: unknown key \"shema\" (did you mean \"schema\"?)"},
      {"tenants:\n  a: { shard: s1, tier: pro, isolation: row }\n",
       "dir.yaml:2: tenants.a.isolation: \"row\" is not one of: schema, shared, database"},
      {"tenants:\n  a: { shard: s1, tier: pro, database: x }\n",
       "dir.yaml:2: tenants.a.database: only applies to isolation: database"},
      {"tenants:\n  a: { shard: s1, tier: pro, schema: " + std::string(64, 's') + " }\n",
       "dir.yaml:2: tenants.a.schema: "},
      {"tenants:\n  a: { shard: s1, tier: pro, max_client_connections: 0 }\n",
       "dir.yaml:2: tenants.a.max_client_connections: 0 is out of range"},
      {"tenants:\n  a: { shard: s1, tier: pro, rate: { action: later } }\n",
       "dir.yaml:2: tenants.a.rate.action: \"later\" is not one of"},
      {"tenants:\n  a: { shard: s1, tier: pro }\n  a: { shard: s2, tier: pro }\n",
       "dir.yaml:3: tenants.a: duplicate key"},
      {"tenants:\n  a: s1\n", "dir.yaml:2: tenants.a: expected a mapping"},
      {"tenants: [a, b]\n", "dir.yaml:1: tenants: expected a mapping"},
      {"tenants:\n  a: { shard: s1\n", "dir.yaml:"},
  };
  for (const auto& tc : cases) {
    auto d = parse_directory(tc.yaml, "dir.yaml", config);
    EXPECT_THAT(error_of(d), StartsWith(tc.expected)) << tc.yaml;
  }
}

TEST(RoutingDirectory, LongTemplateSchemaIsRejected) {
  auto config = make_config();
  // tenant_ + 60 characters = 67 bytes > 63: PostgreSQL would silently truncate it.
  auto d = parse_directory("tenants:\n  " + std::string(60, 'a') + ": { shard: s1, tier: pro }\n",
                           "dir.yaml", config);
  EXPECT_THAT(error_of(d), HasSubstr("longer than 63 bytes"));
}

TEST(RoutingDirectory, FormatRoundTrips) {
  auto config = make_config();
  Directory d;
  d.put("acme", Placement{"s1", "tenant_acme", "pro", config::Isolation::kSchema, "", {}, {}});
  d.put("globex", Placement{"s2", "globex", "ent", config::Isolation::kDatabase, "gx", {}, 5});
  config::RateConfig rate;
  rate.queries_per_second = 0.1;
  rate.burst = 2.5;
  rate.action = config::RateAction::kThrottle;
  rate.max_delay = config::Duration(1500);
  d.put("initech",
        Placement{"eu-2", "tenant_initech", "free", config::Isolation::kSchema, "", rate, {}});
  // IDs YAML would otherwise read as something else.
  for (const char* odd : {"null", "true", "123", "-x", "0x1F", "yes", "_", "1e5", "NO"}) {
    d.put(odd,
          Placement{
              "s1", std::string("tenant_") + odd, "free", config::Isolation::kShared, "", {}, {}});
  }
  std::string text = format_directory(d, config);
  auto back = parse_directory(text, "round.yaml", config);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  ASSERT_EQ(back->size(), d.size()) << text;
  for (const auto& [tenant, p] : d.tenants()) {
    const Placement* q = back->find(tenant);
    ASSERT_NE(q, nullptr) << tenant << "\n" << text;
    EXPECT_EQ(q->shard, p.shard) << tenant;
    EXPECT_EQ(q->schema, p.schema) << tenant;
    EXPECT_EQ(q->tier, p.tier) << tenant;
    EXPECT_EQ(q->isolation, p.isolation) << tenant;
    EXPECT_EQ(q->database, p.database) << tenant;
    EXPECT_EQ(q->max_client_connections, p.max_client_connections) << tenant;
    ASSERT_EQ(q->rate.has_value(), p.rate.has_value()) << tenant;
    if (p.rate) {
      EXPECT_EQ(q->rate->queries_per_second, p.rate->queries_per_second);
      EXPECT_EQ(q->rate->burst, p.rate->burst);
      EXPECT_EQ(q->rate->action, p.rate->action);
      EXPECT_EQ(q->rate->max_delay, p.rate->max_delay);
    }
  }
  // Formatting is deterministic, sorted by tenant, and minimal for defaults.
  EXPECT_EQ(format_directory(*back, config), text);
  EXPECT_LT(text.find("acme:"), text.find("globex:"));
  EXPECT_THAT(text, HasSubstr("acme: {shard: s1, tier: pro}"));
}

TEST(RoutingDirectory, FormatEmpty) {
  auto config = make_config();
  std::string text = format_directory(Directory{}, config);
  EXPECT_THAT(text, HasSubstr("tenants: {}"));
  auto back = parse_directory(text, "e.yaml", config);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->size(), 0u);
}

TEST(RoutingDirectory, PutAndErase) {
  Directory d;
  d.put("a", Placement{});
  d.put("a", Placement{"s2", "", "", config::Isolation::kSchema, "", {}, {}});
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.find("a")->shard, "s2");
  EXPECT_TRUE(d.erase("a"));
  EXPECT_FALSE(d.erase("a"));
  EXPECT_EQ(d.size(), 0u);
}

class DirectoryFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sg_dir_test_" + std::to_string(::getpid()));
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

TEST_F(DirectoryFiles, MissingFileIsEmpty) {
  auto config = make_config();
  auto d = load_directory_file((dir_ / "none.yaml").string(), config);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->size(), 0u);
}

TEST_F(DirectoryFiles, BadFileNamesPathAndLine) {
  auto config = make_config();
  std::string path =
      write("d.yaml", "tenants:\n  a: { shard: s1, tier: pro }\n  b: { shard: x }\n");
  auto d = load_directory_file(path, config);
  EXPECT_THAT(error_of(d), StartsWith(path + ":3: tenants.b.shard: shard \"x\" is not defined"));
}

TEST_F(DirectoryFiles, CheckConfigAndDirectory) {
  const std::string base =
      "shards: { s1: {} }\nauth: { users: [ { name: app, password: x, tenants: '*' } ] }\n";
  std::string good = write("good.yaml", base + "directory: { file: d1.yaml }\n");
  write("d1.yaml", "tenants: { acme: { shard: s1 } }\n");
  EXPECT_TRUE(check_config_and_directory(good).ok());

  std::string no_dir = write("nodir.yaml", base);
  EXPECT_TRUE(check_config_and_directory(no_dir).ok());

  std::string missing_dir = write("missing.yaml", base + "directory: { file: absent.yaml }\n");
  EXPECT_TRUE(check_config_and_directory(missing_dir).ok());

  std::string bad_dir = write("baddir.yaml", base + "directory: { file: d2.yaml }\n");
  write("d2.yaml", "tenants: { acme: { shard: s7 } }\n");
  auto st = check_config_and_directory(bad_dir);
  EXPECT_THAT(std::string(st.message()), StartsWith((dir_ / "d2.yaml").string() + ":1: "));

  std::string bad_config = write("bad.yaml", base + "workerz: 1\n");
  st = check_config_and_directory(bad_config);
  EXPECT_THAT(std::string(st.message()), StartsWith(bad_config + ":3: workerz: unknown key"));

  EXPECT_FALSE(check_config_and_directory((dir_ / "nope.yaml").string()).ok());
}

}  // namespace
}  // namespace shardgate::routing
