// Each tenant's queries over the last hour, for REBALANCE ... BY LOAD. The running query
// counters only grow; every `interval` the sampler marks each tenant's counter in a ring of
// hourly marks, and the last hour's queries are the counter now minus the mark taken an hour
// before the newest one. While the proxy has been up for less than that, the baseline is zero:
// every query since the start counts.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace shardgate::proxy {

class QueryWindow {
 public:
  // Marks per hour: one every five minutes, so "the last hour" is the last 60 to 65 minutes.
  static constexpr int kMarksPerHour = 12;

  // Records every tenant's running count; called once per interval (the first call at start).
  // Tenants missing from `counts` have left: their marks are dropped.
  void mark(const std::vector<std::pair<std::string, uint64_t>>& counts);
  // Queries of `tenant` in the last hour, given its running count now.
  uint64_t last_hour(const std::string& tenant, uint64_t count_now) const;

 private:
  // One more than the marks per hour: the oldest slot is the mark an hour before the newest.
  static constexpr int kSlots = kMarksPerHour + 1;
  using Ring = std::array<uint64_t, kSlots>;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Ring> rings_;
  uint64_t marks_ = 0;  // marks taken so far
};

}  // namespace shardgate::proxy
