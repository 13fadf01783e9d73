#include "proxy/metrics/families.h"

#include <gtest/gtest.h>

#include <cmath>

#include "proxy/session/statement_text.h"

namespace shardgate::proxy {
namespace {

using pool::LatencyHistogram;

const prometheus::MetricFamily* find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  for (const auto& f : families)
    if (f.name == name) return &f;
  return nullptr;
}

TEST(MetricsFamilies, HistogramBucketsAreCumulativeWithInfLast) {
  LatencyHistogram h;
  h.observe(std::chrono::microseconds(50));
  h.observe(std::chrono::microseconds(300));
  h.observe(std::chrono::seconds(30));
  auto hist = to_histogram(h.snapshot());
  ASSERT_EQ(hist.bucket.size(), LatencyHistogram::kBuckets);
  EXPECT_EQ(hist.bucket.front().upper_bound, 0.0001);
  EXPECT_EQ(hist.bucket.front().cumulative_count, 1u);
  EXPECT_EQ(hist.bucket[2].cumulative_count, 2u);  // <= 0.5 ms
  EXPECT_TRUE(std::isinf(hist.bucket.back().upper_bound));
  EXPECT_EQ(hist.bucket.back().cumulative_count, 3u);
  EXPECT_EQ(hist.sample_count, 3u);
  EXPECT_NEAR(hist.sample_sum, 30.00035, 1e-9);
}

TEST(MetricsFamilies, TenantRowsBecomeLabelledSeries) {
  TenantSeriesRow row{"acme", "pro", {}};
  row.counts.queries = 4;
  row.counts.rate_limited = 1;
  row.counts.errors["42"] = 2;
  std::vector<prometheus::MetricFamily> out;
  add_tenant_families({row}, out);
  const auto* queries = find(out, "shardgate_tenant_queries_total");
  ASSERT_NE(queries, nullptr);
  EXPECT_EQ(queries->type, prometheus::MetricType::Counter);
  ASSERT_EQ(queries->metric.size(), 1u);
  EXPECT_EQ(queries->metric[0].counter.value, 4);
  ASSERT_EQ(queries->metric[0].label.size(), 2u);
  EXPECT_EQ(queries->metric[0].label[0].name, "tenant");
  EXPECT_EQ(queries->metric[0].label[0].value, "acme");
  EXPECT_EQ(queries->metric[0].label[1].value, "pro");
  const auto* errors = find(out, "shardgate_tenant_errors_total");
  ASSERT_NE(errors, nullptr);
  ASSERT_EQ(errors->metric.size(), 1u);
  EXPECT_EQ(errors->metric[0].label[2].name, "sqlstate_class");
  EXPECT_EQ(errors->metric[0].label[2].value, "42");
  ASSERT_NE(find(out, "shardgate_tenant_query_duration_seconds"), nullptr);
  ASSERT_NE(find(out, "shardgate_tenant_rate_limited_total"), nullptr);
}

TEST(MetricsFamilies, PoolRowsOfOneNameAreSummed) {
  PoolRow a{0, "s1/pro", "s1", 10, {}};
  a.stats.active = 2;
  a.stats.idle = 1;
  a.stats.waiting = 3;
  PoolRow b = a;
  b.worker = 1;
  std::vector<prometheus::MetricFamily> out;
  add_pool_families({a, b}, out);
  const auto* conns = find(out, "shardgate_pool_server_connections");
  ASSERT_NE(conns, nullptr);
  ASSERT_EQ(conns->metric.size(), 3u);  // active, idle, connecting
  EXPECT_EQ(conns->metric[0].label[2].value, "active");
  EXPECT_EQ(conns->metric[0].gauge.value, 4);
  const auto* waiting = find(out, "shardgate_pool_waiting_clients");
  ASSERT_NE(waiting, nullptr);
  EXPECT_EQ(waiting->metric[0].gauge.value, 6);
}

TEST(SlowStatement, TruncatesOnACharacterBoundary) {
  EXPECT_EQ(truncate_statement("SELECT 1"), "SELECT 1");
  std::string long_sql(500, 'x');
  EXPECT_EQ(truncate_statement(long_sql).size(), kMaxLoggedStatement);
  // "é" is two bytes: a cut in its middle backs off to before it.
  std::string text = std::string(kMaxLoggedStatement - 1, 'a') + "\xC3\xA9" + "tail";
  EXPECT_EQ(truncate_statement(text), std::string(kMaxLoggedStatement - 1, 'a'));
}

TEST(SlowStatement, ReadsTheTextOfParseAndTheNameOfBind) {
  std::string parse("stmt\0SELECT $1\0\0\0", 17);
  protocol::ByteSpan parse_body(reinterpret_cast<const uint8_t*>(parse.data()), parse.size());
  EXPECT_EQ(parse_statement_text(parse_body), "SELECT $1");
  std::string bind("portal\0stmt\0\0\0\0\1", 17);
  protocol::ByteSpan bind_body(reinterpret_cast<const uint8_t*>(bind.data()), bind.size());
  EXPECT_EQ(bind_statement_name(bind_body), "stmt");
  EXPECT_EQ(parse_statement_text(protocol::ByteSpan()), "");
}

}  // namespace
}  // namespace shardgate::proxy
