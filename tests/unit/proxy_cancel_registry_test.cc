#include "proxy/cancel_registry.h"

#include <gtest/gtest.h>

#include <set>

namespace shardgate::proxy {
namespace {

TEST(CancelRegistry, IssuesUniqueKeysAndFindsTargetsOnlyWithTheRightSecret) {
  CancelRegistry reg;
  std::set<int32_t> pids;
  for (int i = 0; i < 1000; ++i) pids.insert(reg.issue().pid);
  EXPECT_EQ(pids.size(), 1000u);

  ClientKey key = reg.issue();
  EXPECT_FALSE(reg.find(key).has_value());  // no server serving it yet
  reg.set_target(key, pool::CancelTarget{"127.0.0.1", 5432, 77, 88});
  auto t = reg.find(key);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->pid, 77);
  EXPECT_EQ(t->secret, 88);
  EXPECT_FALSE(reg.find(ClientKey{key.pid, key.secret ^ 1}).has_value());
  reg.set_target(key, std::nullopt);
  EXPECT_FALSE(reg.find(key).has_value());
  reg.remove(key);
  EXPECT_EQ(reg.size(), 1000u);
}

}  // namespace
}  // namespace shardgate::proxy
