// The metric families of /metrics, built at scrape time from plain snapshots (tenant series
// rows, pool rows, shard states). Pure: no I/O, no locks; docs/observability.md lists every
// name, label and meaning (names are a stable contract, docs/observability.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "pool/latency_histogram.h"
#include "proxy/metrics/tenant_series.h"
#include "proxy/metrics/worker_stats.h"

namespace shardgate::moves {
struct MoveMetrics;
}

namespace shardgate::proxy {

// shardgate_tenant_{queries,rate_limited,errors}_total and _query_duration_seconds.
void add_tenant_families(const std::vector<TenantSeriesRow>& rows,
                         std::vector<prometheus::MetricFamily>& out);

// shardgate_pool_{server_connections,waiting_clients,wait_duration_seconds,...}; rows of one
// pool name on several workers are summed.
void add_pool_families(const std::vector<PoolRow>& pools,
                       std::vector<prometheus::MetricFamily>& out);

// shardgate_client_connections{tier}.
void add_client_family(const std::map<std::string, int64_t>& clients_by_tier,
                       std::vector<prometheus::MetricFamily>& out);

// shardgate_shard_up{shard}.
void add_shard_family(const std::map<std::string, bool>& shard_up,
                      std::vector<prometheus::MetricFamily>& out);

// shardgate_directory_tenants.
void add_directory_family(size_t tenants, std::vector<prometheus::MetricFamily>& out);

// shardgate_admin_commands_total{command,result}.
void add_admin_family(const std::map<std::pair<std::string, std::string>, uint64_t>& counts,
                      std::vector<prometheus::MetricFamily>& out);

// shardgate_moves_total{result}, shardgate_move_pause_seconds, shardgate_move_lag_bytes{tenant},
// shardgate_move_copied_bytes_total (moves.cc).
void add_move_families(const moves::MoveMetrics& moves, std::vector<prometheus::MetricFamily>& out);

// An empty family: every family of /metrics starts here.
prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type);

// A latency snapshot as a Prometheus histogram (cumulative buckets, +Inf last).
prometheus::ClientMetric::Histogram to_histogram(const pool::LatencyHistogram::Snapshot& s);

}  // namespace shardgate::proxy
