// The tenant-move families of /metrics, from the MoveManager's counters.
#include <limits>

#include "proxy/metrics/families.h"
#include "proxy/moves/move_manager.h"

namespace shardgate::proxy {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric::Histogram pause_histogram(const std::vector<double>& pauses) {
  static const double kBounds[] = {0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5,  1,     2,    5,   std::numeric_limits<double>::infinity()};
  ClientMetric::Histogram h;
  h.sample_count = pauses.size();
  for (double p : pauses) h.sample_sum += p;
  for (double bound : kBounds) {
    uint64_t n = 0;
    for (double p : pauses) n += p <= bound ? 1 : 0;
    h.bucket.push_back({n, bound});
  }
  return h;
}

}  // namespace

void add_move_families(const moves::MoveMetrics& moves, std::vector<MetricFamily>& out) {
  auto total = family("shardgate_moves_total",
                      "Tenant moves that ended, by result (done, rolled_back, failed).",
                      MetricType::Counter);
  for (const char* result : {"done", "rolled_back", "failed"}) {
    auto it = moves.results.find(result);
    ClientMetric m;
    m.label = {{"result", result}};
    m.counter.value = it == moves.results.end() ? 0 : static_cast<double>(it->second);
    total.metric.push_back(std::move(m));
  }
  out.push_back(std::move(total));

  auto pause =
      family("shardgate_move_pause_seconds",
             "How long each finished move paused its tenant at cutover.", MetricType::Histogram);
  ClientMetric p;
  p.histogram = pause_histogram(moves.pause_seconds);
  pause.metric.push_back(std::move(p));
  out.push_back(std::move(pause));

  auto lag = family("shardgate_move_lag_bytes", "Replication lag of each running move, by tenant.",
                    MetricType::Gauge);
  for (const auto& [tenant, bytes] : moves.lag_bytes) {
    ClientMetric m;
    m.label = {{"tenant", tenant}};
    m.gauge.value = static_cast<double>(bytes);
    lag.metric.push_back(std::move(m));
  }
  out.push_back(std::move(lag));

  auto copied = family("shardgate_move_copied_bytes_total",
                       "Bytes of tenant data (table sizes on the source) finished moves copied.",
                       MetricType::Counter);
  ClientMetric c;
  c.counter.value = static_cast<double>(moves.copied_bytes);
  copied.metric.push_back(std::move(c));
  out.push_back(std::move(copied));
}

}  // namespace shardgate::proxy
