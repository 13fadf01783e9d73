// proxy/moves/rebalance_plan: the greedy REBALANCE PLAN.
#include "proxy/moves/rebalance_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace shardgate::moves {
namespace {

RebalanceInput skewed() {
  RebalanceInput in;
  in.shards = {"s1", "s2", "s3"};
  // s1 holds most of it; s3 is nearly empty.
  const double s1[] = {900, 700, 650, 400, 350, 300, 200, 150};
  for (size_t i = 0; i < std::size(s1); ++i)
    in.tenants.push_back({"a" + std::to_string(i), "s1", s1[i]});
  in.tenants.push_back({"b0", "s2", 300});
  in.tenants.push_back({"b1", "s2", 250});
  in.tenants.push_back({"b2", "s2", 100});
  in.tenants.push_back({"c0", "s3", 50});
  return in;
}

// Replays the moves over the starting totals: each row's before/after must follow.
std::map<std::string, double> replay(const RebalancePlan& plan) {
  auto totals = plan.before;
  for (const auto& m : plan.moves) {
    EXPECT_EQ(m.from_before, totals[m.from]) << m.tenant;
    EXPECT_EQ(m.to_before, totals[m.to]) << m.tenant;
    EXPECT_EQ(m.from_after, m.from_before - m.weight);
    EXPECT_EQ(m.to_after, m.to_before + m.weight);
    totals[m.from] = m.from_after;
    totals[m.to] = m.to_after;
  }
  return totals;
}

TEST(RebalancePlan, BringsEveryShardWithinTheThreshold) {
  auto plan = plan_rebalance(skewed());
  EXPECT_EQ(plan.before.at("s1"), 3650);
  EXPECT_EQ(plan.mean, 4350.0 / 3);
  EXPECT_FALSE(within_threshold(plan.before, plan.mean));
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_TRUE(plan.balanced);
  auto totals = replay(plan);
  EXPECT_EQ(totals, plan.after);
  for (const auto& [shard, total] : totals)
    EXPECT_LE(std::abs(total - plan.mean), kRebalanceThreshold * plan.mean) << shard;
  // A tenant moves at most once; the first move takes the biggest tenant of the fullest
  // shard to the emptiest.
  std::set<std::string> seen;
  for (const auto& m : plan.moves) EXPECT_TRUE(seen.insert(m.tenant).second) << m.tenant;
  EXPECT_EQ(plan.moves[0].tenant, "a0");
  EXPECT_EQ(plan.moves[0].to, "s3");
  // Deterministic.
  auto again = plan_rebalance(skewed());
  ASSERT_EQ(again.moves.size(), plan.moves.size());
  for (size_t i = 0; i < plan.moves.size(); ++i)
    EXPECT_EQ(again.moves[i].tenant, plan.moves[i].tenant);
}

TEST(RebalancePlan, StopsAtMaxMoves) {
  auto in = skewed();
  auto full = plan_rebalance(in);
  ASSERT_GT(full.moves.size(), 1u);
  in.max_moves = 1;
  auto one = plan_rebalance(in);
  ASSERT_EQ(one.moves.size(), 1u);
  EXPECT_EQ(one.moves[0].tenant, full.moves[0].tenant);
  EXPECT_FALSE(one.balanced);
}

TEST(RebalancePlan, NeverPlansOntoAShardLeftOut) {
  auto in = skewed();
  in.shards = {"s1", "s2"};  // s3 draining: neither a target nor counted
  auto plan = plan_rebalance(in);
  EXPECT_FALSE(plan.before.contains("s3"));
  ASSERT_FALSE(plan.moves.empty());
  for (const auto& m : plan.moves) {
    EXPECT_EQ(m.to, "s2");
    EXPECT_NE(m.tenant, "c0");
  }
  EXPECT_TRUE(plan.balanced);
}

TEST(RebalancePlan, BalancedOrTinyGainsPlanNothing) {
  RebalanceInput in;
  in.shards = {"s1", "s2"};
  in.tenants = {{"a", "s1", 100}, {"b", "s2", 95}};
  EXPECT_TRUE(plan_rebalance(in).moves.empty());
  // One big tenant: moving it only swaps which shard is full.
  in.tenants = {{"a", "s1", 100}};
  auto plan = plan_rebalance(in);
  EXPECT_TRUE(plan.moves.empty());
  EXPECT_FALSE(plan.balanced);
  // Nothing to weigh at all.
  in.tenants = {};
  EXPECT_TRUE(plan_rebalance(in).moves.empty());
  in.shards = {};
  EXPECT_TRUE(plan_rebalance(in).moves.empty());
}

TEST(RebalancePlan, ImmovableTenantsCountButStay) {
  RebalanceInput in;
  in.shards = {"s1", "s2"};
  in.tenants = {{"shared", "s1", 500, false}, {"m1", "s1", 250}, {"m2", "s1", 250}};
  auto plan = plan_rebalance(in);
  EXPECT_EQ(plan.before.at("s1"), 1000);
  for (const auto& m : plan.moves) EXPECT_NE(m.tenant, "shared");
  ASSERT_EQ(plan.moves.size(), 2u);
  EXPECT_EQ(plan.after.at("s1"), 500);  // the shared tenant's 500 stay on s1
  EXPECT_EQ(plan.after.at("s2"), 500);
  EXPECT_TRUE(plan.balanced);
}

}  // namespace
}  // namespace shardgate::moves
