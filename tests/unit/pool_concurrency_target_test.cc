#include "pool/concurrency_target.h"

#include <functional>

#include <gtest/gtest.h>

namespace shardgate::pool {
namespace {

using Clock = ConcurrencyTarget::Clock;

// Feeds `windows` measurement windows of 300 ms to `t`. Each window answers
// `throughput(limit)` requests per second (at least kMinAnswers) spread evenly over it, and
// a share `queued_share` of them queued on a busy connection.
void run(ConcurrencyTarget& t, Clock::time_point& now, int windows,
         const std::function<double(int)>& throughput, double queued_share = 0.5) {
  for (int w = 0; w < windows; ++w) {
    int answers = static_cast<int>(throughput(t.limit()) * 0.3);
    ASSERT_GE(answers, static_cast<int>(ConcurrencyTarget::kMinAnswers));
    int queued = static_cast<int>(answers * queued_share);
    auto gap = std::chrono::microseconds(300000) / answers;
    for (int i = 0; i < answers; ++i) {
      if (i < queued) t.queued();
      t.answered(now, t.limit());
      now += gap;
    }
    now += gap;  // the answer that closes the window (and opens the next) lands after it
  }
}

// Where the target went over `windows` more windows, one at a time.
struct Seen {
  int lowest = 1 << 30, highest = 0, sum = 0;
};
Seen watch(ConcurrencyTarget& t, Clock::time_point& now, int windows,
           const std::function<double(int)>& throughput) {
  Seen seen;
  for (int w = 0; w < windows; ++w) {
    run(t, now, 1, throughput);
    seen.lowest = std::min(seen.lowest, t.limit());
    seen.highest = std::max(seen.highest, t.limit());
    seen.sum += t.limit();
  }
  return seen;
}

// A shard saturated from 4 busy connections on: the same work at any higher count, a little
// less as each extra connection adds context switches.
double saturated_at_4(int limit) {
  return limit >= 4 ? 20000 - 100.0 * (limit - 4) : 5000.0 * limit;
}

TEST(ConcurrencyTarget, StartsAtThePoolSize) {
  ConcurrencyTarget t(20);
  EXPECT_EQ(t.limit(), 20);
}

TEST(ConcurrencyTarget, ASaturatedShardEndsNearItsKnee) {
  ConcurrencyTarget t(20);
  Clock::time_point now{};
  run(t, now, 60, saturated_at_4);
  // Held near where throughput stops growing: never far below (that costs throughput), never
  // back at the size (that buys nothing).
  EXPECT_GE(t.limit(), 2);
  EXPECT_LE(t.limit(), 6);
  Seen seen = watch(t, now, 40, saturated_at_4);
  EXPECT_GE(seen.lowest, 2);
  EXPECT_LE(seen.highest, 10);
}

TEST(ConcurrencyTarget, AShardThatNeedsItsConnectionsKeepsThem) {
  // Throughput proportional to busy connections (slow statements, an I/O bound shard).
  auto linear = [](int limit) { return 1000.0 * limit; };
  ConcurrencyTarget t(20);
  Clock::time_point now{};
  run(t, now, 80, linear);
  Seen seen = watch(t, now, 40, linear);
  // One probe down at the start lost throughput and showed requests holding connections no
  // longer at fewer of them (not saturated): it is not probed again while that holds.
  EXPECT_EQ(seen.lowest, 20);
  EXPECT_EQ(seen.sum, 20 * 40);
}

TEST(ConcurrencyTarget, WithoutQueueingItReturnsToTheSize) {
  ConcurrencyTarget t(20);
  Clock::time_point now{};
  run(t, now, 40, saturated_at_4);
  ASSERT_LT(t.limit(), 10);
  // Demand falls: nothing queues any more, so the target is not what limits the pool.
  run(
      t, now, 40, [](int) { return 2000.0; }, 0.0);
  EXPECT_EQ(t.limit(), 20);
}

TEST(ConcurrencyTarget, AnotherLoadStartsAgainFromTheSize) {
  ConcurrencyTarget t(20);
  Clock::time_point now{};
  run(t, now, 40, saturated_at_4);
  ASSERT_LT(t.limit(), 10);
  // Slow statements now: each connection answers 500 per second, so the low target that
  // suited the fast ones would cut throughput to a fraction.
  auto slow = [](int limit) { return 500.0 * limit; };
  // Up by half a step, each step followed by a settling window.
  EXPECT_EQ(watch(t, now, 12, slow).highest, 20);
  run(t, now, 40, slow);
  EXPECT_EQ(t.limit(), 20);
  // And back to the fast statements: requests hold connections far shorter than where the
  // slow ones were measured, so it probes and finds the knee again.
  run(t, now, 60, saturated_at_4);
  EXPECT_LE(t.limit(), 10);
}

TEST(ConcurrencyTarget, NoDecisionBeforeAWholeWindow) {
  {
    ConcurrencyTarget t(20);
    Clock::time_point now{};
    // Many answers within 200 ms, all queued: too short a window to measure.
    for (int i = 0; i < 2000; ++i) {
      t.queued();
      t.answered(now, t.limit());
      now += std::chrono::microseconds(100);
    }
    EXPECT_EQ(t.limit(), 20);
  }
  {
    ConcurrencyTarget t(20);
    Clock::time_point now{};
    // A long quiet spell with only a handful of answers, all queued: too few to measure.
    for (int i = 0; i < int{ConcurrencyTarget::kMinAnswers} - 1; ++i) {
      t.queued();
      t.answered(now, t.limit());
      now += std::chrono::seconds(1);
    }
    EXPECT_EQ(t.limit(), 20);
  }
}

TEST(ConcurrencyTarget, ResizeKeepsTheTargetUnderTheNewSize) {
  ConcurrencyTarget t(20);
  t.resize(8);
  EXPECT_EQ(t.limit(), 8);
  t.resize(30);
  EXPECT_EQ(t.limit(), 8);  // measured again from where it was
  Clock::time_point now{};
  run(
      t, now, 30, [](int) { return 2000.0; }, 0.0);
  EXPECT_EQ(t.limit(), 30);
}

TEST(ConcurrencyTarget, TinyPoolsAreLeftAlone) {
  ConcurrencyTarget t(2);
  Clock::time_point now{};
  run(t, now, 20, saturated_at_4);
  EXPECT_EQ(t.limit(), 2);
}

}  // namespace
}  // namespace shardgate::pool
