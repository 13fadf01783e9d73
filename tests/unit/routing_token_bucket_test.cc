#include "routing/limits/token_bucket.h"

#include <gtest/gtest.h>

namespace shardgate::routing {
namespace {

using Clock = TokenBucket::Clock;
using std::chrono::milliseconds;

TEST(TokenBucket, UnlimitedWhenRateIsZero) {
  TokenBucket b;
  b.configure(0, 0, false, {});
  auto t = Clock::now();
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(b.take(t).allowed);
}

TEST(TokenBucket, RejectModeAllowsBurstThenRate) {
  TokenBucket b;
  b.configure(100, 10, false, {});
  auto t = Clock::now();
  int allowed = 0;
  for (int i = 0; i < 50; ++i) allowed += b.take(t).allowed;
  EXPECT_EQ(allowed, 10);  // the burst, at one instant
  // One second later exactly `rate` more tokens have accrued (capped by the burst).
  allowed = 0;
  for (int step = 1; step <= 100; ++step) {
    auto now = t + milliseconds(10 * step);
    allowed += b.take(now).allowed;
  }
  EXPECT_EQ(allowed, 100);
}

TEST(TokenBucket, ThrottleModeDelaysUpToMaxDelayThenRejects) {
  TokenBucket b;
  b.configure(10, 1, true, milliseconds(500));
  auto t = Clock::now();
  auto first = b.take(t);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.delay.count(), 0);
  // Each further token is borrowed 100 ms further into the future, up to 500 ms.
  for (int i = 1; i <= 5; ++i) {
    auto d = b.take(t);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_NEAR(std::chrono::duration<double>(d.delay).count(), 0.1 * i, 1e-6);
  }
  EXPECT_FALSE(b.take(t).allowed);  // 600 ms would exceed max_delay
}

TEST(TokenBucket, ReconfigureChangesTheRate) {
  TokenBucket b;
  b.configure(1, 1, false, {});
  auto t = Clock::now();
  EXPECT_TRUE(b.take(t).allowed);
  EXPECT_FALSE(b.take(t).allowed);
  b.configure(1000, 1000, false, {});
  EXPECT_TRUE(b.take(t + milliseconds(10)).allowed);
}

}  // namespace
}  // namespace shardgate::routing
