#include "proxy/metrics/tenant_series.h"

#include <gtest/gtest.h>

#include <map>

namespace shardgate::proxy {
namespace {

using config::TenantSeries;

// A tenant as the registry would show it: a stable identity object and its counts.
struct FakeTenant {
  std::string name;
  std::string tier = "free";
  TenantSeries policy = TenantSeries::kAuto;
  uint64_t queries = 0;
  std::shared_ptr<int> identity = std::make_shared<int>(0);

  TenantSample sample() const {
    TenantSample s;
    s.identity = identity;
    s.tenant = name;
    s.tier = tier;
    s.policy = policy;
    s.counts.queries = queries;
    s.counts.latency.counts[0] = queries;
    s.counts.latency.count = queries;
    return s;
  }
};

std::vector<TenantSample> samples_of(const std::vector<FakeTenant>& tenants) {
  std::vector<TenantSample> out;
  for (const auto& t : tenants) out.push_back(t.sample());
  return out;
}

// tenant -> queries, with "_other" rows keyed "_other/<tier>".
std::map<std::string, uint64_t> queries_of(const std::vector<TenantSeriesRow>& rows) {
  std::map<std::string, uint64_t> out;
  for (const auto& r : rows) {
    std::string key = r.tenant == kOtherTenant ? "_other/" + r.tier : r.tenant;
    out[key] = r.counts.queries;
  }
  return out;
}

uint64_t total(const std::vector<TenantSeriesRow>& rows) {
  uint64_t sum = 0;
  for (const auto& r : rows) sum += r.counts.queries;
  return sum;
}

TEST(TenantSeries, UnderTheCapEveryTenantHasItsOwnSeries) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAuto, 3},
                                     {"b", "pro", TenantSeries::kAuto, 5}};
  auto rows = selector.select(samples_of(tenants), {}, 10);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"a", 3}, {"b", 5}}));
}

TEST(TenantSeries, TheBusiestGetTheSlotsAndTheRestSumUnderOtherByTier) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"quiet", "free", TenantSeries::kAuto, 1},
                                     {"busy", "free", TenantSeries::kAuto, 50},
                                     {"mid", "pro", TenantSeries::kAuto, 10},
                                     {"low", "pro", TenantSeries::kAuto, 2}};
  auto rows = selector.select(samples_of(tenants), {}, 2);
  EXPECT_EQ(queries_of(rows),
            (std::map<std::string, uint64_t>{
                {"busy", 50}, {"mid", 10}, {"_other/free", 1}, {"_other/pro", 2}}));
  EXPECT_EQ(selector.chosen(), 2u);
}

TEST(TenantSeries, SeriesAreStickyAndOtherNeverGoesBackwards) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAuto, 5},
                                     {"b", "free", TenantSeries::kAuto, 1}};
  auto rows = selector.select(samples_of(tenants), {}, 1);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"a", 5}, {"_other/free", 1}}));
  // b becomes far busier: a keeps its series (sticky), b stays under _other.
  tenants[1].queries = 100;
  rows = selector.select(samples_of(tenants), {}, 1);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"a", 5}, {"_other/free", 100}}));
}

TEST(TenantSeries, PromotionOutOfOtherLeavesTheExportedCountsThere) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAuto, 5},
                                     {"b", "free", TenantSeries::kAuto, 3}};
  auto rows = selector.select(samples_of(tenants), {}, 1);
  EXPECT_EQ(queries_of(rows)["_other/free"], 3u);
  // The cap is raised: b gets a series counting from its promotion; what it had by then
  // stays under _other (which so never goes backwards).
  tenants[1].queries = 7;
  rows = selector.select(samples_of(tenants), {}, 2);
  EXPECT_EQ(queries_of(rows),
            (std::map<std::string, uint64_t>{{"a", 5}, {"b", 0}, {"_other/free", 7}}));
  tenants[1].queries = 9;
  rows = selector.select(samples_of(tenants), {}, 2);
  EXPECT_EQ(queries_of(rows),
            (std::map<std::string, uint64_t>{{"a", 5}, {"b", 2}, {"_other/free", 7}}));
  EXPECT_EQ(total(rows), 14u);
}

TEST(TenantSeries, ARetiredTenantLosesItsSeriesAndFreesItsSlot) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAuto, 5},
                                     {"b", "free", TenantSeries::kAuto, 1}};
  selector.select(samples_of(tenants), {}, 1);
  // a leaves the directory: the registry folds its final counts into retired_by_tier.
  std::map<std::string, TenantCounts> retired;
  retired["free"].queries = 5;
  auto rows = selector.select(samples_of({tenants[1]}), retired, 1);
  // b takes the free slot; what it had exported under _other stays there.
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"b", 0}, {"_other/free", 6}}));
  EXPECT_FALSE(selector.has_series("a"));
  EXPECT_EQ(total(rows), 6u);
}

TEST(TenantSeries, ATenantThatCameBackIsANewTenant) {
  TenantSeriesSelector selector;
  FakeTenant a{"a", "free", TenantSeries::kAuto, 5};
  selector.select(samples_of({a}), {}, 1);
  FakeTenant again{"a", "free", TenantSeries::kAuto, 1};  // new state object, counts anew
  std::map<std::string, TenantCounts> retired;
  retired["free"].queries = 5;
  auto rows = selector.select(samples_of({again}), retired, 1);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"a", 1}, {"_other/free", 5}}));
}

TEST(TenantSeries, AlwaysTiersComeFirstAndMayDisplaceAutoTenants) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"busy", "free", TenantSeries::kAuto, 100}};
  selector.select(samples_of(tenants), {}, 1);
  tenants.push_back({"vip", "gold", TenantSeries::kAlways, 1});
  auto rows = selector.select(samples_of(tenants), {}, 1);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"vip", 1}, {"_other/free", 100}}));
  EXPECT_TRUE(selector.has_series("vip"));
  EXPECT_FALSE(selector.has_series("busy"));
}

TEST(TenantSeries, NeverTiersStayUnderOther) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"bulk", "batch", TenantSeries::kNever, 100},
                                     {"a", "free", TenantSeries::kAuto, 1}};
  auto rows = selector.select(samples_of(tenants), {}, 10);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"a", 1}, {"_other/batch", 100}}));
  // A tier switched to never on reload: its tenants go back to _other with all their counts.
  tenants[1].policy = TenantSeries::kNever;
  rows = selector.select(samples_of(tenants), {}, 10);
  EXPECT_EQ(queries_of(rows),
            (std::map<std::string, uint64_t>{{"_other/batch", 100}, {"_other/free", 1}}));
}

TEST(TenantSeries, ALowerCapDropsTheLeastBusy) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAuto, 5},
                                     {"b", "free", TenantSeries::kAuto, 9},
                                     {"c", "free", TenantSeries::kAuto, 7}};
  selector.select(samples_of(tenants), {}, 3);
  auto rows = selector.select(samples_of(tenants), {}, 1);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"b", 9}, {"_other/free", 12}}));
}

TEST(TenantSeries, ZeroCapPutsEveryoneUnderOther) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants = {{"a", "free", TenantSeries::kAlways, 5}};
  auto rows = selector.select(samples_of(tenants), {}, 0);
  EXPECT_EQ(queries_of(rows), (std::map<std::string, uint64_t>{{"_other/free", 5}}));
}

TEST(TenantSeries, ManyTenantsStayWithinTheCapAndSumExactly) {
  TenantSeriesSelector selector;
  std::vector<FakeTenant> tenants;
  uint64_t sent = 0;
  for (int i = 0; i < 5000; ++i) {
    tenants.push_back({"t" + std::to_string(i), i % 2 ? "free" : "pro", TenantSeries::kAuto,
                       static_cast<uint64_t>(i % 17)});
    sent += i % 17;
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& t : tenants) {
      t.queries += 1;
      sent += 1;
    }
    auto rows = selector.select(samples_of(tenants), {}, 100);
    size_t own = 0;
    for (const auto& r : rows) own += r.tenant != kOtherTenant;
    EXPECT_EQ(own, 100u);
    EXPECT_EQ(rows.size(), 102u);  // and _other for each of the two tiers
    EXPECT_EQ(total(rows), sent);
  }
}

TEST(TenantCounts, SubtractingABaselineNeverGoesBelowZero) {
  TenantCounts now, baseline;
  now.queries = 5;
  now.errors["42"] = 2;
  now.latency.counts[1] = 4;
  now.latency.count = 4;
  now.latency.sum_seconds = 0.001;
  baseline.queries = 7;
  baseline.errors["42"] = 1;
  baseline.latency.counts[1] = 1;
  baseline.latency.count = 1;
  baseline.latency.sum_seconds = 0.0004;
  now -= baseline;
  EXPECT_EQ(now.queries, 0u);
  EXPECT_EQ(now.errors["42"], 1u);
  EXPECT_EQ(now.latency.count, 3u);
  EXPECT_NEAR(now.latency.sum_seconds, 0.0006, 1e-12);
}

}  // namespace
}  // namespace shardgate::proxy
