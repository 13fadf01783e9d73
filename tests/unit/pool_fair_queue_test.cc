// Fair queueing of a pool's waiters: round robin by tenant, weighted by tier.
#include "pool/fair_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shardgate::pool {
namespace {

struct Waiter {
  std::string tenant;
  int weight = 1;
  int id = 0;
};

std::string order(FairQueue<Waiter>& q, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    Waiter* w = q.pop();
    if (!w) break;
    if (!out.empty()) out += ' ';
    out += w->tenant + std::to_string(w->id);
  }
  return out;
}

TEST(FairQueue, EmptyPopsNothing) {
  FairQueue<Waiter> q;
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(FairQueue, ManyWaitersOfOneTenantCannotStarveAnother) {
  FairQueue<Waiter> q;
  std::vector<Waiter> flood;
  for (int i = 0; i < 5; ++i) flood.push_back({"a", 1, i});
  for (auto& w : flood) q.push(&w);
  Waiter quiet{"b", 1, 0};
  q.push(&quiet);
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.tenants(), 2u);
  // b arrived last but is served second: one per tenant per turn.
  EXPECT_EQ(order(q, 3), "a0 b0 a1");
  EXPECT_TRUE(q.only_tenant("a"));
  EXPECT_EQ(order(q, 10), "a2 a3 a4");
  EXPECT_TRUE(q.empty());
}

TEST(FairQueue, WeightServesThatManyPerTurn) {
  FairQueue<Waiter> q;
  std::vector<Waiter> heavy, light;
  for (int i = 0; i < 4; ++i) heavy.push_back({"h", 3, i});
  for (int i = 0; i < 4; ++i) light.push_back({"l", 1, i});
  for (int i = 0; i < 4; ++i) {
    q.push(&heavy[i]);
    q.push(&light[i]);
  }
  EXPECT_EQ(order(q, 8), "h0 h1 h2 l0 h3 l1 l2 l3");
}

TEST(FairQueue, NewTenantWaitsForThisTurn) {
  FairQueue<Waiter> q;
  Waiter a0{"a", 1, 0}, a1{"a", 1, 1}, b0{"b", 1, 0}, c0{"c", 1, 0};
  q.push(&a0);
  q.push(&a1);
  q.push(&b0);
  EXPECT_EQ(order(q, 1), "a0");
  q.push(&c0);  // joins before the cursor: after b, whose turn it is
  EXPECT_EQ(order(q, 3), "b0 a1 c0");
}

TEST(FairQueue, IneligibleTenantsAreSkippedNotDropped) {
  FairQueue<Waiter> q;
  Waiter a0{"a", 1, 0}, b0{"b", 1, 0};
  q.push(&a0);
  q.push(&b0);
  Waiter* w = q.pop([](std::string_view t) { return t != "a"; });
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->tenant, "b");
  EXPECT_EQ(q.pop([](std::string_view) { return false; }), nullptr);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.pop(), &a0);
}

TEST(FairQueue, RemoveTakesOutAWaiterThatGaveUp) {
  FairQueue<Waiter> q;
  Waiter a0{"a", 1, 0}, a1{"a", 1, 1}, b0{"b", 1, 0}, stranger{"z", 1, 0};
  q.push(&a0);
  q.push(&b0);
  q.push(&a1);
  EXPECT_FALSE(q.remove(&stranger));
  EXPECT_TRUE(q.remove(&b0));
  EXPECT_FALSE(q.remove(&b0));
  EXPECT_EQ(q.tenants(), 1u);
  EXPECT_EQ(order(q, 5), "a0 a1");
  EXPECT_TRUE(q.empty());
}

TEST(FairQueue, RemovingTheLaneAtTheCursorKeepsTheRing) {
  FairQueue<Waiter> q;
  Waiter a0{"a", 1, 0}, b0{"b", 1, 0}, c0{"c", 1, 0};
  q.push(&a0);
  q.push(&b0);
  q.push(&c0);
  EXPECT_EQ(order(q, 1), "a0");  // cursor now at b
  EXPECT_TRUE(q.remove(&b0));
  EXPECT_EQ(order(q, 5), "c0");
}

}  // namespace
}  // namespace shardgate::pool
