#include "proxy/runtime/cancel_registry.h"

#include <gtest/gtest.h>

#include <set>

namespace shardgate::proxy {
namespace {

TEST(CancelRegistry, IssuesUniqueKeysAndFindsTargetsOnlyWithTheRightSecret) {
  CancelRegistry reg;
  std::set<int32_t> pids;
  for (int i = 0; i < 1000; ++i) pids.insert(reg.issue(nullptr).pid);
  EXPECT_EQ(pids.size(), 1000u);

  auto slot = std::make_shared<CancelSlot>();
  ClientKey key = reg.issue(slot);
  EXPECT_FALSE(reg.find(key).has_value());  // no server serving it yet
  slot->set(
      std::make_shared<const pool::CancelTarget>(pool::CancelTarget{"127.0.0.1", 5432, 77, 88}));
  auto t = reg.find(key);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->pid, 77);
  EXPECT_EQ(t->secret, 88);
  EXPECT_FALSE(reg.find(ClientKey{key.pid, key.secret ^ 1}).has_value());
  slot->set(nullptr);
  EXPECT_FALSE(reg.find(key).has_value());
  reg.remove(key);
  EXPECT_EQ(reg.size(), 1000u);
}

}  // namespace
}  // namespace shardgate::proxy
