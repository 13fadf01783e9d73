#include "pool/latency_histogram.h"

#include <gtest/gtest.h>

namespace shardgate::pool {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, EmptyHasNoQuantiles) {
  LatencyHistogram h;
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.quantile(0.99), 0.0);
}

TEST(LatencyHistogram, SamplesLandInTheirBuckets) {
  LatencyHistogram h;
  h.observe(microseconds(50));          // <= 0.1 ms
  h.observe(microseconds(100));         // == 0.1 ms: same bucket (upper bound inclusive)
  h.observe(microseconds(300));         // 0.25..0.5 ms
  h.observe(std::chrono::seconds(20));  // over the last bound: +Inf
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[2], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBuckets - 1], 1u);
  EXPECT_NEAR(s.sum_seconds, 20.00045, 1e-9);
}

TEST(LatencyHistogram, QuantilesFollowTheDistribution) {
  LatencyHistogram h;
  for (int i = 0; i < 98; ++i) h.observe(microseconds(200));             // 0.1..0.25 ms bucket
  for (int i = 0; i < 2; ++i) h.observe(std::chrono::milliseconds(40));  // 25..50 ms bucket
  auto s = h.snapshot();
  double p50 = s.quantile(0.5), p99 = s.quantile(0.99);
  EXPECT_GT(p50, 0.0001);
  EXPECT_LE(p50, 0.00025);
  EXPECT_GT(p99, 0.025);
  EXPECT_LE(p99, 0.05);
}

}  // namespace
}  // namespace shardgate::pool
