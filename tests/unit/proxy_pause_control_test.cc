#include "proxy/tenants/pause_control.h"

#include <gtest/gtest.h>

namespace shardgate::proxy {
namespace {

TEST(PauseControl, NothingPausedByDefault) {
  PauseControl p;
  EXPECT_FALSE(p.any());
  EXPECT_FALSE(p.is_paused("acme", "s1"));
}

TEST(PauseControl, TenantPauseTouchesOnlyThatTenant) {
  PauseControl p;
  EXPECT_TRUE(p.pause_tenant("acme"));
  EXPECT_FALSE(p.pause_tenant("acme"));  // already paused
  EXPECT_TRUE(p.any());
  EXPECT_TRUE(p.is_paused("acme", "s1"));
  EXPECT_FALSE(p.is_paused("globex", "s1"));
  EXPECT_TRUE(p.resume_tenant("acme"));
  EXPECT_FALSE(p.resume_tenant("acme"));
  EXPECT_FALSE(p.any());
  EXPECT_FALSE(p.is_paused("acme", "s1"));
}

TEST(PauseControl, ShardPauseHoldsEveryTenantOnIt) {
  PauseControl p;
  EXPECT_TRUE(p.pause_shard("s2"));
  EXPECT_TRUE(p.is_paused("acme", "s2"));
  EXPECT_TRUE(p.is_paused("globex", "s2"));
  EXPECT_FALSE(p.is_paused("acme", "s1"));
  EXPECT_EQ(p.paused_shards(), std::vector<std::string>{"s2"});
  EXPECT_TRUE(p.paused_tenants().empty());
  p.resume_shard("s2");
  EXPECT_FALSE(p.any());
}

TEST(PauseControl, ShardCountersAreSharedPerShard) {
  PauseControl p;
  auto a = p.shard_in_flight("s1");
  auto b = p.shard_in_flight("s1");
  auto c = p.shard_in_flight("s2");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace shardgate::proxy
