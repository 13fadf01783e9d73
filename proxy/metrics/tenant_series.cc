#include "proxy/metrics/tenant_series.h"

#include <algorithm>
#include <string_view>

namespace shardgate::proxy {

namespace {
using config::TenantSeries;
}  // namespace

std::vector<TenantSeriesRow> TenantSeriesSelector::select(
    std::vector<TenantSample> samples, const std::map<std::string, TenantCounts>& retired_by_tier,
    size_t cap) {
  Index index;
  index.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) index[samples[i].tenant] = i;
  forget_departed(samples, index);
  while (chosen_.size() > cap) chosen_.erase(least_busy(false));  // the cap was lowered
  promote(samples, cap);
  return rows(samples, retired_by_tier, index);
}

void TenantSeriesSelector::forget_departed(const std::vector<TenantSample>& samples,
                                           const Index& index) {
  // Tenants that left (or came back as a new tenant) lose their series: their counts are in
  // retired_by_tier. Tenants whose tier now says `never` go back to "_other" with all counts.
  for (auto it = chosen_.begin(); it != chosen_.end();) {
    auto found = index.find(it->first);
    if (found == index.end() || samples[found->second].identity != it->second.identity ||
        samples[found->second].policy == TenantSeries::kNever) {
      chosen_.erase(it++);
      continue;
    }
    it->second.policy = samples[found->second].policy;
    it->second.queries = samples[found->second].counts.queries;
    ++it;
  }
}

TenantSeriesSelector::ChosenMap::iterator TenantSeriesSelector::least_busy(bool auto_only) {
  auto pick = chosen_.end();
  for (auto it = chosen_.begin(); it != chosen_.end(); ++it) {
    if (auto_only && it->second.policy == TenantSeries::kAlways) continue;
    if (pick == chosen_.end() || it->second.queries < pick->second.queries ||
        (it->second.queries == pick->second.queries && it->first > pick->first))
      pick = it;
  }
  return pick;
}

void TenantSeriesSelector::promote(const std::vector<TenantSample>& samples, size_t cap) {
  std::vector<size_t> candidates;
  bool any_always = false;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (s.policy == TenantSeries::kNever || chosen_.contains(s.tenant)) continue;
    candidates.push_back(i);
    any_always |= s.policy == TenantSeries::kAlways;
  }
  size_t free = cap - chosen_.size();
  if (candidates.empty() || (free == 0 && !any_always)) return;
  std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
    const auto& x = samples[a];
    const auto& y = samples[b];
    bool xa = x.policy == TenantSeries::kAlways, ya = y.policy == TenantSeries::kAlways;
    if (xa != ya) return xa;
    if (x.counts.queries != y.counts.queries) return x.counts.queries > y.counts.queries;
    return x.tenant < y.tenant;
  });
  for (size_t i : candidates) {
    const auto& s = samples[i];
    if (free == 0) {
      if (s.policy != TenantSeries::kAlways) break;
      auto displaced = least_busy(true);
      if (displaced == chosen_.end()) break;
      chosen_.erase(displaced);
      free = 1;
    }
    Chosen entry{s.identity, s.policy, s.counts.queries, {}};
    // Counts already exported under "_other" stay there.
    if (in_other_.erase(s.tenant) > 0) entry.baseline = s.counts;
    chosen_.emplace(s.tenant, std::move(entry));
    --free;
  }
}

std::vector<TenantSeriesRow> TenantSeriesSelector::rows(
    std::vector<TenantSample>& samples, const std::map<std::string, TenantCounts>& retired_by_tier,
    const Index& index) {
  std::vector<TenantSeriesRow> rows;
  rows.reserve(chosen_.size() + 4);
  std::map<std::string, TenantCounts> other;
  for (auto& s : samples) {
    auto it = chosen_.find(s.tenant);
    if (it == chosen_.end()) {
      other[s.tier] += s.counts;
      in_other_.insert(s.tenant);
      continue;
    }
    const TenantCounts& baseline = it->second.baseline;
    if (baseline.queries || baseline.rate_limited || baseline.latency.count ||
        !baseline.errors.empty())
      other[s.tier] += baseline;
    TenantSeriesRow row{s.tenant, s.tier, std::move(s.counts)};
    row.counts -= it->second.baseline;
    rows.push_back(std::move(row));
  }
  for (const auto& [tier, counts] : retired_by_tier) other[tier] += counts;
  // Forget tenants that are gone (their counts moved to retired_by_tier).
  for (auto it = in_other_.begin(); it != in_other_.end();) {
    if (!index.contains(*it))
      in_other_.erase(it++);
    else
      ++it;
  }
  std::sort(rows.begin(), rows.end(),
            [](const TenantSeriesRow& a, const TenantSeriesRow& b) { return a.tenant < b.tenant; });
  for (auto& [tier, counts] : other)
    rows.push_back({std::string(kOtherTenant), tier, std::move(counts)});
  return rows;
}

}  // namespace shardgate::proxy
