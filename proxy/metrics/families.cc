#include "proxy/metrics/families.h"

#include <limits>

namespace shardgate::proxy {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

void add_counter(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f.metric.push_back(std::move(m));
}

void add_gauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void add_histogram(MetricFamily& f, Labels labels, const pool::LatencyHistogram::Snapshot& s) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram = to_histogram(s);
  f.metric.push_back(std::move(m));
}

struct PoolTotals {
  std::string shard;
  pool::PoolStats stats;
};

}  // namespace

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric::Histogram to_histogram(const pool::LatencyHistogram::Snapshot& s) {
  using pool::LatencyHistogram;
  ClientMetric::Histogram h;
  h.sample_count = s.count;
  h.sample_sum = s.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += s.counts[i];
    double bound = i < LatencyHistogram::kBounds.size() ? LatencyHistogram::kBounds[i]
                                                        : std::numeric_limits<double>::infinity();
    h.bucket.push_back({cumulative, bound});
  }
  return h;
}

void add_tenant_families(const std::vector<TenantSeriesRow>& rows, std::vector<MetricFamily>& out) {
  auto queries = family("shardgate_tenant_queries_total",
                        "Statements run by the tenant (one per simple query message, one per "
                        "Execute); tenant=\"_other\" sums tenants over the series cap.",
                        MetricType::Counter);
  auto duration = family("shardgate_tenant_query_duration_seconds",
                         "Time from a request (Query or Sync) reaching the shard to its "
                         "ReadyForQuery.",
                         MetricType::Histogram);
  auto limited = family("shardgate_tenant_rate_limited_total",
                        "Statements over the tenant's rate limit (refused with 53400, or "
                        "throttled past rate.max_delay).",
                        MetricType::Counter);
  auto errors = family("shardgate_tenant_errors_total",
                       "ErrorResponses the tenant's clients received, by SQLSTATE class (first "
                       "two characters).",
                       MetricType::Counter);
  for (const auto& row : rows) {
    Labels labels{{"tenant", row.tenant}, {"tier", row.tier}};
    add_counter(queries, labels, static_cast<double>(row.counts.queries));
    add_histogram(duration, labels, row.counts.latency);
    add_counter(limited, labels, static_cast<double>(row.counts.rate_limited));
    for (const auto& [cls, n] : row.counts.errors) {
      add_counter(errors, {{"tenant", row.tenant}, {"tier", row.tier}, {"sqlstate_class", cls}},
                  static_cast<double>(n));
    }
  }
  out.push_back(std::move(queries));
  out.push_back(std::move(duration));
  out.push_back(std::move(limited));
  out.push_back(std::move(errors));
}

void add_pool_families(const std::vector<PoolRow>& pools, std::vector<MetricFamily>& out) {
  std::map<std::string, PoolTotals> by_name;
  for (const auto& row : pools) {
    auto& t = by_name[row.name];
    t.shard = row.shard;
    t.stats.active += row.stats.active;
    t.stats.idle += row.stats.idle;
    t.stats.connecting += row.stats.connecting;
    t.stats.waiting += row.stats.waiting;
    t.stats.timeouts += row.stats.timeouts;
    t.stats.connect_failures += row.stats.connect_failures;
    t.stats.pipelined += row.stats.pipelined;
    t.stats.concurrency_target += row.stats.concurrency_target;
    t.stats.wait += row.stats.wait;
  }
  auto connections = family("shardgate_pool_server_connections",
                            "Server connections of the pool by state: active (lent to a client), "
                            "idle, connecting.",
                            MetricType::Gauge);
  auto waiting = family("shardgate_pool_waiting_clients",
                        "Clients waiting for a server connection of the pool.", MetricType::Gauge);
  auto wait = family("shardgate_pool_wait_duration_seconds",
                     "Time a client took to get a server connection from the pool (queueing and "
                     "connecting), per connection handed out.",
                     MetricType::Histogram);
  auto timeouts =
      family("shardgate_pool_timeouts_total",
             "Clients that waited longer than pool_timeout (53300).", MetricType::Counter);
  auto failures = family("shardgate_pool_connect_failures_total",
                         "Failed attempts to open a server connection.", MetricType::Counter);
  auto pipelined = family("shardgate_pool_pipelined_requests_total",
                          "Requests that queued behind another of their tenant on a busy server "
                          "connection instead of waiting for a free one (tier pipeline_depth).",
                          MetricType::Counter);
  auto target = family("shardgate_pool_concurrency_target",
                       "Busy server connections of the pool from which a one-statement request "
                       "queues on a busy connection of its tenant (measured; the pool size when "
                       "nothing queues).",
                       MetricType::Gauge);
  for (const auto& [name, t] : by_name) {
    Labels labels{{"pool", name}, {"shard", t.shard}};
    add_counter(pipelined, labels, static_cast<double>(t.stats.pipelined));
    add_gauge(target, labels, t.stats.concurrency_target);
    add_gauge(connections, {{"pool", name}, {"shard", t.shard}, {"state", "active"}},
              t.stats.active);
    add_gauge(connections, {{"pool", name}, {"shard", t.shard}, {"state", "idle"}}, t.stats.idle);
    add_gauge(connections, {{"pool", name}, {"shard", t.shard}, {"state", "connecting"}},
              t.stats.connecting);
    add_gauge(waiting, labels, t.stats.waiting);
    add_histogram(wait, labels, t.stats.wait);
    add_counter(timeouts, labels, static_cast<double>(t.stats.timeouts));
    add_counter(failures, labels, static_cast<double>(t.stats.connect_failures));
  }
  out.push_back(std::move(connections));
  out.push_back(std::move(waiting));
  out.push_back(std::move(wait));
  out.push_back(std::move(timeouts));
  out.push_back(std::move(failures));
  out.push_back(std::move(pipelined));
  out.push_back(std::move(target));
}

void add_client_family(const std::map<std::string, int64_t>& clients_by_tier,
                       std::vector<MetricFamily>& out) {
  auto f = family("shardgate_client_connections",
                  "Client connections by the tier of their current tenant; tier=\"_none\": no "
                  "tenant yet (starting up, or waiting for SET shardgate.tenant).",
                  MetricType::Gauge);
  for (const auto& [tier, n] : clients_by_tier)
    add_gauge(f, {{"tier", tier}}, static_cast<double>(n));
  out.push_back(std::move(f));
}

void add_shard_family(const std::map<std::string, bool>& shard_up, std::vector<MetricFamily>& out) {
  auto f = family("shardgate_shard_up",
                  "1 when shardgate can reach the shard, 0 while it cannot (see "
                  "docs/observability.md for how this is decided).",
                  MetricType::Gauge);
  for (const auto& [shard, up] : shard_up) add_gauge(f, {{"shard", shard}}, up ? 1 : 0);
  out.push_back(std::move(f));
}

void add_directory_family(size_t tenants, std::vector<MetricFamily>& out) {
  auto f =
      family("shardgate_directory_tenants", "Tenants in the shard directory.", MetricType::Gauge);
  add_gauge(f, {}, static_cast<double>(tenants));
  out.push_back(std::move(f));
}

void add_admin_family(const std::map<std::pair<std::string, std::string>, uint64_t>& counts,
                      std::vector<MetricFamily>& out) {
  auto f =
      family("shardgate_admin_commands_total",
             "Admin socket commands by command and result (ok or error).", MetricType::Counter);
  for (const auto& [key, n] : counts)
    add_counter(f, {{"command", key.first}, {"result", key.second}}, static_cast<double>(n));
  out.push_back(std::move(f));
}

}  // namespace shardgate::proxy
