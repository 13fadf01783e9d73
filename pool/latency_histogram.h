// A fixed-bucket latency histogram of relaxed atomics: recording is two atomic adds, no lock,
// so the per-query path can use it; readers (SHOW TENANT, /metrics) take a snapshot. Used for
// per-tenant query latency (proxy) and per-pool wait times (pool).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace shardgate::pool {

class LatencyHistogram {
 public:
  // Upper bounds in seconds; tuned for sub-millisecond proxying up to multi-second queries.
  static constexpr std::array<double, 16> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                     1.0,    2.5,     5.0,    10.0};
  static constexpr size_t kBuckets = kBounds.size() + 1;  // the last is +Inf

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};  // per bucket, not cumulative
    uint64_t count = 0;
    double sum_seconds = 0;
    // The q-quantile (0..1) in seconds, interpolated inside its bucket; 0 without samples.
    double quantile(double q) const;
    // Sums of histograms (e.g. several tenants under one series) and differences (counts
    // since a baseline; never below zero).
    Snapshot& operator+=(const Snapshot& other);
    Snapshot& operator-=(const Snapshot& other);
  };

  void observe(std::chrono::nanoseconds elapsed) {
    double seconds = std::chrono::duration<double>(elapsed).count();
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count()),
                      std::memory_order_relaxed);
  }

  Snapshot snapshot() const {
    Snapshot s;
    for (size_t i = 0; i < kBuckets; ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
      s.count += s.counts[i];
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

inline double LatencyHistogram::Snapshot::quantile(double q) const {
  if (count == 0) return 0;
  double rank = q * static_cast<double>(count);
  double seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    double here = static_cast<double>(counts[i]);
    if (here > 0 && seen + here >= rank) {
      double lower = i == 0 ? 0 : kBounds[i - 1];
      double upper = i < kBounds.size() ? kBounds[i] : kBounds.back();
      double within = here > 0 ? (rank - seen) / here : 0;
      return lower + (upper - lower) * within;
    }
    seen += here;
  }
  return kBounds.back();
}

inline LatencyHistogram::Snapshot& LatencyHistogram::Snapshot::operator+=(const Snapshot& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts[i] += other.counts[i];
  count += other.count;
  sum_seconds += other.sum_seconds;
  return *this;
}

inline LatencyHistogram::Snapshot& LatencyHistogram::Snapshot::operator-=(const Snapshot& other) {
  count = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] = counts[i] > other.counts[i] ? counts[i] - other.counts[i] : 0;
    count += counts[i];
  }
  sum_seconds = sum_seconds > other.sum_seconds ? sum_seconds - other.sum_seconds : 0;
  return *this;
}

}  // namespace shardgate::pool
