// routing/shard_choice: where a tenant goes when nobody names a shard, with draining shards
// (DRAIN SHARD) left out; the draining flag's round trip through the directory file; the
// schema -> tenant inverse used to pin hash-placed tenants.
#include <gtest/gtest.h>

#include "config/config.h"
#include "routing/directory.h"
#include "routing/route.h"
#include "routing/shard_choice.h"

namespace shardgate::routing {
namespace {

config::Config make_config() {
  auto c = config::parse_config(R"(shards: { s1: {}, s2: {}, s3: {} }
auth: { users: [ { name: app, password: x, tenants: "*" } ] }
tiers: { pro: {} }
directory: { default_placement: { hash: [s1, s2, s3], tier: pro } }
)",
                                "c.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

void place(Directory& d, const std::string& tenant, const std::string& shard) {
  d.put(tenant,
        Placement{shard, "tenant_" + tenant, "pro", config::Isolation::kSchema, "", {}, {}});
}

TEST(ShardChoice, LeastLoadedSkipsDrainingAndExcluded) {
  auto config = make_config();
  Directory d;
  EXPECT_EQ(least_loaded_shard(config, d), "s1");  // ties: first by name
  place(d, "a", "s1");
  place(d, "b", "s1");
  place(d, "c", "s2");
  EXPECT_EQ(least_loaded_shard(config, d), "s3");
  d.set_draining("s3", true);
  EXPECT_EQ(least_loaded_shard(config, d), "s2");
  EXPECT_EQ(least_loaded_shard(config, d, "s2"), "s1");
  d.set_draining("s1", true);
  EXPECT_EQ(least_loaded_shard(config, d, "s2"), "");
  d.set_draining("s3", false);
  EXPECT_EQ(least_loaded_shard(config, d), "s3");
}

TEST(ShardChoice, HashSkipsDrainingShardAndKeepsTheOthersStable) {
  auto config = make_config();
  const auto& hash = config.directory.default_placement.hash_shards;
  Directory open, draining;
  draining.set_draining("s2", true);
  int rehashed = 0;
  for (int i = 0; i < 300; ++i) {
    std::string tenant = "t" + std::to_string(i);
    const std::string& before = hashed_shard(tenant, hash, open);
    const std::string& after = hashed_shard(tenant, hash, draining);
    EXPECT_EQ(before, hash[stable_hash(tenant) % 3]);
    EXPECT_NE(after, "s2");
    if (before != "s2") {
      EXPECT_EQ(after, before) << tenant;  // nobody else moves
    }
    rehashed += before == "s2";
    // route_tenant asks the same function.
    EXPECT_EQ(std::get<Route>(route_tenant(tenant, config, draining)).placement.shard, after);
  }
  EXPECT_GT(rehashed, 50);
  Directory all;
  for (const auto& s : hash) all.set_draining(s, true);
  EXPECT_EQ(hashed_shard("t1", hash, all), hashed_shard("t1", hash, open));
}

TEST(ShardChoice, DrainingFlagRoundTripsThroughTheDirectoryFile) {
  auto config = make_config();
  Directory d;
  place(d, "acme", "s1");
  d.set_draining("s3", true);
  d.set_draining("s1", true);
  std::string text = format_directory(d, config);
  EXPECT_NE(text.find("draining: [s1, s3]"), std::string::npos) << text;
  auto back = parse_directory(text, "dir.yaml", config);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->draining("s1"));
  EXPECT_FALSE(back->draining("s2"));
  EXPECT_TRUE(back->draining("s3"));
  EXPECT_EQ(format_directory(*back, config), text);
  // Without draining shards the file looks as it always did.
  EXPECT_EQ(format_directory(Directory{}, config).find("draining"), std::string::npos);
  // A shard removed from the config (the last step of decommissioning it) is dropped.
  auto gone = parse_directory("tenants: {}\ndraining: [s9, s2]\n", "dir.yaml", config);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->draining_shards(), (std::set<std::string>{"s2"}));
  EXPECT_FALSE(parse_directory("draining: s2\n", "dir.yaml", config).ok());
}

TEST(ShardChoice, TenantFromSchemaInvertsTheTemplate) {
  EXPECT_EQ(tenant_from_schema("tenant_{tenant}", "tenant_acme"), "acme");
  EXPECT_EQ(tenant_from_schema("{tenant}_data", "a-b_data"), "a-b");
  EXPECT_EQ(tenant_from_schema("{tenant}", "acme"), "acme");
  EXPECT_FALSE(tenant_from_schema("tenant_{tenant}", "tenant_"));
  EXPECT_FALSE(tenant_from_schema("tenant_{tenant}", "public"));
  EXPECT_FALSE(tenant_from_schema("tenant_{tenant}", "tenant_acme__moved_3"));
  EXPECT_FALSE(tenant_from_schema("tenant_{tenant}", "tenant_a b"));
  EXPECT_FALSE(tenant_from_schema("{tenant}_{tenant}", "a_a"));
  EXPECT_FALSE(tenant_from_schema("fixed", "fixed"));
}

}  // namespace
}  // namespace shardgate::routing
