// Which tenants get their own series in /metrics, under the cardinality cap
// (metrics.per_tenant_series); everything else is summed under tenant="_other" of its tier.
//
// - Sticky: a tenant keeps its series once it has one, until it leaves the directory (its
//   series then disappear and its slot frees) or its tier says `tenant_series: never`.
// - Free slots go to tenants of `tenant_series: always` tiers first, then to the busiest
//   (most queries). An `always` tenant may take the slot of the least busy `auto` tenant when
//   the cap is full.
// - Counters never go backwards: a tenant promoted out of `_other` leaves the counts it had
//   there (its own series counts from its promotion on), and a tenant demoted or gone from the
//   directory adds its counts to `_other`. A tenant never exported before (first seen at this
//   scrape) is promoted with all its counts. So the sum over all series is every tenant's
//   total, exactly.
//
// Pure: runs at scrape time on plain inputs, no locks of its own (the caller serializes).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "config/config.h"
#include "proxy/tenants/tenant_registry.h"

namespace shardgate::proxy {

inline constexpr std::string_view kOtherTenant = "_other";

struct TenantSample {
  // The tenant's state object: a new object under a known name is a new tenant (it left the
  // directory and came back). Held so the address cannot be reused meanwhile.
  std::shared_ptr<const void> identity;
  std::string tenant;
  std::string tier;
  config::TenantSeries policy = config::TenantSeries::kAuto;
  TenantCounts counts;
};

struct TenantSeriesRow {
  std::string tenant;  // or "_other"
  std::string tier;
  TenantCounts counts;
};

class TenantSeriesSelector {
 public:
  // One row per tenant with its own series, then one "_other" row per tier that has anything
  // summed under it. `retired_by_tier`: final counts of tenants gone from the directory.
  std::vector<TenantSeriesRow> select(std::vector<TenantSample> samples,
                                      const std::map<std::string, TenantCounts>& retired_by_tier,
                                      size_t cap);

  size_t chosen() const { return chosen_.size(); }
  bool has_series(const std::string& tenant) const { return chosen_.contains(tenant); }

 private:
  struct Chosen {
    std::shared_ptr<const void> identity;
    config::TenantSeries policy = config::TenantSeries::kAuto;
    uint64_t queries = 0;   // at the last scrape, to pick whom an `always` tenant displaces
    TenantCounts baseline;  // counts left under "_other" at promotion
  };
  using Index = absl::flat_hash_map<std::string_view, size_t>;
  using ChosenMap = absl::flat_hash_map<std::string, Chosen>;
  // Drops the series of tenants that left, came back as new, or now say `never`.
  void forget_departed(const std::vector<TenantSample>& samples, const Index& index);
  // The least busy tenant with a series (only `auto` ones when auto_only): whom to drop.
  ChosenMap::iterator least_busy(bool auto_only);
  // Gives series to the busiest tenants without one while there is room under the cap; an
  // `always` tenant displaces the least busy `auto` one.
  void promote(const std::vector<TenantSample>& samples, size_t cap);
  // The rows: tenants with series (less what they left under "_other"), then "_other".
  std::vector<TenantSeriesRow> rows(std::vector<TenantSample>& samples,
                                    const std::map<std::string, TenantCounts>& retired_by_tier,
                                    const Index& index);
  ChosenMap chosen_;
  // Tenants whose counts were exported under "_other" at an earlier scrape.
  absl::flat_hash_set<std::string> in_other_;
};

}  // namespace shardgate::proxy
