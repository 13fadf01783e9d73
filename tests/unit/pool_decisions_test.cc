// The pool's choices (pool/pool_decisions.h), without sockets: which idle connection a tenant
// gets, when a connection is kept or retired, when and behind which busy connection a
// request may queue.
#include "pool/pool_decisions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shardgate::pool::decide {
namespace {

using std::chrono::seconds;

auto tenant_is = [](const std::string& s) -> std::string_view { return s; };

TEST(PoolDecisions, IdlePickPrefersTheNewestConnectionCarryingTheTenant) {
  std::vector<std::string> idle = {"acme", "globex", "acme", "initech"};  // oldest first
  EXPECT_EQ(idle_pick(idle, "acme", tenant_is) - idle.begin(), 2);
  EXPECT_EQ(idle_pick(idle, "globex", tenant_is) - idle.begin(), 1);
}

TEST(PoolDecisions, IdlePickFallsBackToTheNewestOfAll) {
  std::vector<std::string> idle = {"acme", "globex", ""};
  EXPECT_EQ(idle_pick(idle, "umbrella", tenant_is) - idle.begin(), 2);
  std::vector<std::string> none;
  EXPECT_EQ(idle_pick(none, "acme", tenant_is), none.end());
}

TEST(PoolDecisions, KeepAfterUseOnlyWhatIsCurrentOpenAndYoung) {
  EXPECT_TRUE(keep_after_use(true, true, seconds(10), seconds(3600)));
  EXPECT_TRUE(keep_after_use(true, true, seconds(3600), seconds(3600)));
  EXPECT_FALSE(keep_after_use(false, true, seconds(10), seconds(3600)));   // before a reload
  EXPECT_FALSE(keep_after_use(true, false, seconds(10), seconds(3600)));   // server closed it
  EXPECT_FALSE(keep_after_use(true, true, seconds(3601), seconds(3600)));  // past lifetime
}

TEST(PoolDecisions, RetireIdleKeepsMinPoolSize) {
  const auto idle_timeout = seconds(600), lifetime = seconds(3600);
  // Idle too long: retired while the pool is above min_pool_size, kept at it.
  EXPECT_TRUE(retire_idle(seconds(601), idle_timeout, 3, 2, seconds(700), lifetime, true));
  EXPECT_FALSE(retire_idle(seconds(601), idle_timeout, 2, 2, seconds(700), lifetime, true));
  // Past its lifetime or dead: retired even at min_pool_size.
  EXPECT_TRUE(retire_idle(seconds(1), idle_timeout, 2, 2, seconds(3601), lifetime, true));
  EXPECT_TRUE(retire_idle(seconds(1), idle_timeout, 2, 2, seconds(5), lifetime, false));
  EXPECT_FALSE(retire_idle(seconds(1), idle_timeout, 5, 0, seconds(5), lifetime, true));
}

TEST(PoolDecisions, PipelineWhenThePoolIsFullOrAtItsTargetAndNoOtherTenantWaits) {
  // At a target equal to the size (the start): only an exhausted pool.
  EXPECT_TRUE(may_pipeline(true, false, 4, 4, 4, 4, true, false));
  EXPECT_TRUE(
      may_pipeline(true, false, 4, 4, 3, 4, true, false));  // one still connecting, none idle
  EXPECT_FALSE(may_pipeline(false, false, 4, 4, 4, 4, true, false));  // nothing to queue behind
  EXPECT_FALSE(may_pipeline(true, true, 4, 4, 3, 4, true, false));    // an idle connection is free
  EXPECT_FALSE(may_pipeline(true, false, 3, 4, 3, 4, true, false));   // room to open one
  EXPECT_FALSE(
      may_pipeline(true, false, 4, 4, 4, 4, true, true));  // another tenant waits: fairness
  // A lowered target: busy connections at the target queue even with idle ones about.
  EXPECT_TRUE(may_pipeline(true, true, 20, 20, 4, 4, true, false));
  EXPECT_TRUE(may_pipeline(true, false, 4, 20, 4, 4, true, false));
  EXPECT_FALSE(may_pipeline(true, true, 20, 20, 3, 4, true, false));
  EXPECT_FALSE(may_pipeline(true, true, 20, 20, 4, 4, true, true));
  // A tenant whose statements are not quick queues only on an exhausted pool.
  EXPECT_FALSE(may_pipeline(true, true, 20, 20, 4, 4, false, false));
  EXPECT_FALSE(may_pipeline(true, false, 4, 20, 4, 4, false, false));
  EXPECT_TRUE(may_pipeline(true, false, 20, 20, 20, 4, false, false));
}

TEST(PoolDecisions, QuickStatementsAreThoseAnsweredUnderAMillisecondLately) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  EXPECT_TRUE(quick_statements(microseconds(0), seconds(0)));
  EXPECT_TRUE(quick_statements(microseconds(999), seconds(9)));
  EXPECT_FALSE(quick_statements(milliseconds(1), seconds(0)));
  EXPECT_FALSE(quick_statements(milliseconds(2), milliseconds(9999)));
  // A measure ten seconds old is tried again: the load may have changed.
  EXPECT_TRUE(quick_statements(milliseconds(2), seconds(10)));
}

TEST(PoolDecisions, OneSlowStatementInTenKeepsTheAverageTurnSlow) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  Duration average{0};
  for (int i = 0; i < 1000; ++i)
    average = next_turn_average(average, i % 10 == 0 ? milliseconds(20) : microseconds(100));
  EXPECT_FALSE(quick_statements(average, seconds(0)));  // about 2 ms on average
  for (int i = 0; i < 200; ++i) average = next_turn_average(average, microseconds(100));
  EXPECT_TRUE(quick_statements(average, seconds(0)));  // the slow ones stopped
  average = next_turn_average(average, milliseconds(20));
  EXPECT_TRUE(quick_statements(average, seconds(0)));  // one alone does not close the gate
}

struct Busy {
  std::string context, last;
  int served = 0;
  size_t queued = 0;
  bool open = true;
};
auto view = [](const Busy& b) {
  return PipelineView{b.context, b.last, b.served, b.queued, b.open};
};

TEST(PoolDecisions, PipelinePickTakesTheShortestQueueOfTheTenant) {
  std::vector<Busy> busy = {{"acme", "acme", 0, 2},
                            {"globex", "globex", 0, 0},
                            {"acme", "acme", 0, 1},
                            {"acme", "acme", 0, 1}};
  EXPECT_EQ(pipeline_pick(busy, "acme", 4, view) - busy.begin(), 2);  // first of the shortest
  EXPECT_EQ(pipeline_pick(busy, "globex", 4, view) - busy.begin(), 1);
  EXPECT_EQ(pipeline_pick(busy, "initech", 4, view), busy.end());
}

TEST(PoolDecisions, PipelinePickRespectsDepthBudgetAndState) {
  // depth 4: a queue of 3 is full (the running request makes 4).
  std::vector<Busy> full = {{"acme", "acme", 0, 3}};
  EXPECT_EQ(pipeline_pick(full, "acme", 4, view), full.end());
  // A lease that served depth * 4 requests goes back to the pool.
  std::vector<Busy> spent = {{"acme", "acme", 16, 0}, {"acme", "acme", 15, 0}};
  EXPECT_EQ(pipeline_pick(spent, "acme", 4, view) - spent.begin(), 1);
  // Context set for acme but last used by another tenant, or closed: not chosen.
  std::vector<Busy> other = {{"acme", "globex", 0, 0}, {"acme", "acme", 0, 0, false}};
  EXPECT_EQ(pipeline_pick(other, "acme", 4, view), other.end());
  // depth 1 never pipelines.
  std::vector<Busy> one = {{"acme", "acme", 0, 0}};
  EXPECT_EQ(pipeline_pick(one, "acme", 1, view), one.end());
}

TEST(PoolDecisions, HeadroomIsATenthOfThePoolAndNoneForTinyPools) {
  EXPECT_EQ(headroom(20), 2);
  EXPECT_EQ(headroom(8), 1);
  EXPECT_EQ(headroom(4), 1);
  EXPECT_EQ(headroom(3), 0);
  EXPECT_EQ(headroom(100), 10);
}

TEST(PoolDecisions, ATenantLeavesTheHeadroomToOthersOnlyWhileTheyAreAbout) {
  // Alone in the pool: every connection.
  EXPECT_TRUE(may_take(19, std::nullopt, 20, false));
  // Another tenant used the pool within the last second: not the last two of 20.
  EXPECT_TRUE(may_take(17, std::nullopt, 20, true));
  EXPECT_FALSE(may_take(18, std::nullopt, 20, true));
  // The cap still applies, with or without others.
  EXPECT_FALSE(may_take(6, 6, 20, false));
  EXPECT_TRUE(may_take(5, 6, 20, true));
  // Tiny pools keep nothing back.
  EXPECT_TRUE(may_take(2, std::nullopt, 3, true));
}

TEST(PoolDecisions, ALongStatementTurnsPipeliningOffForItsTenantForTenSeconds) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  EXPECT_FALSE(pipelining_after_long_statement(milliseconds(0)));
  EXPECT_FALSE(pipelining_after_long_statement(milliseconds(9999)));
  EXPECT_TRUE(pipelining_after_long_statement(seconds(10)));
  EXPECT_TRUE(pipelining_after_long_statement(seconds(3600)));
}

TEST(PoolDecisions, AConnectionIdleForAWhileIsPeekedBeforeOthersQueueOnIt) {
  using std::chrono::microseconds;
  // Passed on from the previous client moments ago: trusted, no system call.
  EXPECT_FALSE(peek_before_pipelining(true, microseconds(0)));
  EXPECT_FALSE(peek_before_pipelining(true, microseconds(99)));
  // Idle long enough for a server restart to have closed it unseen.
  EXPECT_TRUE(peek_before_pipelining(true, microseconds(100)));
  EXPECT_TRUE(peek_before_pipelining(true, std::chrono::seconds(5)));
  // Newly opened: the login proved the server alive.
  EXPECT_FALSE(peek_before_pipelining(false, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace shardgate::pool::decide
