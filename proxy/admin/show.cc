// SHOW commands of the admin socket: read-only views of config, directory, pools, sessions
// and per-tenant counters.
#include <algorithm>
#include <cstdio>
#include <map>

#include "proxy/admin/commands.h"
#include "proxy/metrics/worker_stats.h"
#include "proxy/runtime/version.h"
#include "proxy/session/worker.h"
#include "routing/route.h"

namespace shardgate::proxy {

namespace {

using Row = std::vector<std::optional<std::string>>;
constexpr std::chrono::milliseconds kWorkerTimeout{1000};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}
std::string yes(bool b) { return b ? "t" : "f"; }
std::string ms(config::Duration d) { return std::to_string(d.count()) + "ms"; }

const char* pool_kind(config::PoolKind k) {
  return k == config::PoolKind::kShared ? "shared" : "dedicated";
}
const char* pool_mode(config::PoolMode m) {
  return m == config::PoolMode::kSession ? "session" : "transaction";
}

}  // namespace

AdminReply show_help() {
  static const std::pair<const char*, const char*> kCommands[] = {
      {"SHOW HELP | VERSION | CONFIG | SHARDS | POOLS | CLIENTS | SERVERS | STATS", "inspect"},
      {"SHOW TENANTS [LIKE 'pattern']", "tenants with placement, counters and state"},
      {"SHOW TENANT id", "one tenant"},
      {"CREATE TENANT id [ON SHARD s] [TIER t] [SCHEMA name]",
       "provision the schema (and role) on the shard, then add the directory entry"},
      {"DROP TENANT id [KEEP DATA]", "remove the directory entry (and the schema and role)"},
      {"ALTER TENANT id SET TIER t | SET RATE n | SET MAX_CLIENT_CONNECTIONS n",
       "change a tenant's tier or limits (0 = no limit)"},
      {"PAUSE TENANT id [TIMEOUT d] / RESUME TENANT id",
       "hold the tenant's new transactions; returns once in-flight ones finished"},
      {"PAUSE SHARD s [TIMEOUT d] / RESUME SHARD s", "the same for every tenant of a shard"},
      {"MOVE TENANT id TO SHARD s [ONLINE | COPY] [PAUSE BUDGET d]",
       "move a tenant to another shard online; paused only at cutover"},
      {"SHOW MOVES", "every move of this process and every unfinished one"},
      {"CANCEL MOVE id", "roll back a move that has not flipped the directory"},
      {"DROP MOVED DATA id", "drop the renamed source schema of a finished move"},
      {"DRAIN SHARD s", "no new tenants on s; move every tenant off it, one online move at a time"},
      {"UNDRAIN SHARD s", "let s take new tenants again"},
      {"REBALANCE PLAN [BY SIZE | BY LOAD] [MAX MOVES n]",
       "the moves that bring every shard within 10% of the mean; changes nothing"},
      {"REBALANCE [BY SIZE | BY LOAD] [MAX MOVES n]",
       "carry that plan out, one online move at a time"},
      {"RELOAD", "re-read config and directory; a bad file changes nothing"},
      {"SHUTDOWN [WAIT]", "stop now, or let transactions finish first (WAIT)"},
  };
  AdminReply r;
  r.columns = {text_column("command"), text_column("description")};
  for (const auto& [c, d] : kCommands) r.rows.push_back({c, d});
  r.tag = "SHOW";
  return r;
}

AdminReply show_version() {
  AdminReply r;
  r.columns = {text_column("version")};
  r.rows.push_back({std::string("shardgate ") + kVersion});
  r.tag = "SHOW";
  return r;
}

AdminReply show_config(const AdminContext& ctx) {
  auto rt = ctx.runtime.get();
  const config::Config& c = *rt->config;
  AdminReply r;
  r.columns = {text_column("key"), text_column("value")};
  auto add = [&](std::string k, std::string v) { r.rows.push_back({std::move(k), std::move(v)}); };
  add("config_file", c.source_file);
  add("listen", c.listen.host + ":" + std::to_string(c.listen.port));
  add("workers", std::to_string(ctx.workers.size()));
  add("connect_timeout", ms(c.connect_timeout));
  add("shutdown_timeout", ms(c.shutdown_timeout));
  add("admin.socket_dir", c.admin.socket_dir);
  add("admin.port", std::to_string(c.admin.port));
  add("admin.listen",
      c.admin.listen ? c.admin.listen->host + ":" + std::to_string(c.admin.listen->port) : "");
  add("admin.audit_log", c.admin.audit_log);
  add("metrics.listen", c.metrics.listen
                            ? c.metrics.listen->host + ":" + std::to_string(c.metrics.listen->port)
                            : "");
  add("metrics.per_tenant_series", std::to_string(c.metrics.per_tenant_series));
  add("log.level", c.log.level);
  add("tenant.schema_template", c.tenant.schema_template);
  add("directory.file", c.directory.file);
  add("guard.enabled", yes(c.guard.enabled));
  for (const auto& [name, s] : c.shards)
    add("shards." + name, s.host + ":" + std::to_string(s.port) + "/" + s.dbname + " as " + s.user);
  for (const auto& [name, t] : c.tiers) {
    std::string p = "tiers." + name + ".";
    add(p + "pool", pool_kind(t.pool));
    add(p + "pool_size", std::to_string(t.pool_size));
    add(p + "pool_mode", pool_mode(t.pool_mode));
    add(p + "weight", std::to_string(t.weight));
    add(p + "pool_timeout", ms(t.pool_timeout));
    add(p + "pause_timeout", ms(t.pause_timeout));
    add(p + "rate.queries_per_second", num(t.rate.queries_per_second));
    add(p + "max_client_connections",
        t.max_client_connections ? std::to_string(*t.max_client_connections) : "");
    add(p + "role", t.role);
  }
  r.tag = "SHOW";
  return r;
}

AdminReply show_shards(const AdminContext& ctx) {
  auto rt = ctx.runtime.get();
  std::map<std::string, int> tenants;
  for (const auto& [t, p] : rt->directory->tenants()) ++tenants[p.shard];
  AdminReply r;
  r.columns = {text_column("shard"),    text_column("host"),   int_column("port"),
               text_column("dbname"),   int_column("tenants"), bool_column("paused"),
               int_column("in_flight"), text_column("state")};
  for (const auto& [name, s] : rt->config->shards) {
    auto in_flight = ctx.pauses.shard_in_flight(name)->load();
    bool paused = ctx.pauses.shard_paused(name);
    std::string state = rt->directory->draining(name) ? "draining" : paused ? "paused" : "active";
    r.rows.push_back({name, s.host, std::to_string(s.port), s.dbname, std::to_string(tenants[name]),
                      yes(paused), std::to_string(in_flight), state});
  }
  r.tag = "SHOW";
  return r;
}

AdminReply show_pools(const AdminContext& ctx) {
  auto snap = collect_worker_snapshot(ctx.workers, kWorkerTimeout, false);
  std::sort(snap.pools.begin(), snap.pools.end(),
            [](const PoolRow& a, const PoolRow& b) { return a.name < b.name; });
  AdminReply r;
  r.columns = {text_column("pool"),      text_column("shard"),           int_column("worker"),
               int_column("size"),       int_column("active"),           int_column("idle"),
               int_column("connecting"), int_column("waiting"),          int_column("acquired"),
               int_column("timeouts"),   int_column("connect_failures"), int_column("pipelined"),
               int_column("target")};
  for (const auto& p : snap.pools)
    r.rows.push_back({p.name, p.shard, std::to_string(p.worker), std::to_string(p.size),
                      std::to_string(p.stats.active), std::to_string(p.stats.idle),
                      std::to_string(p.stats.connecting), std::to_string(p.stats.waiting),
                      std::to_string(p.stats.acquired), std::to_string(p.stats.timeouts),
                      std::to_string(p.stats.connect_failures), std::to_string(p.stats.pipelined),
                      std::to_string(p.stats.concurrency_target)});
  r.tag = "SHOW";
  return r;
}

AdminReply show_clients(const AdminContext& ctx) {
  auto snap = collect_worker_snapshot(ctx.workers, kWorkerTimeout, true);
  std::sort(snap.clients.begin(), snap.clients.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  AdminReply r;
  r.columns = {int_column("session"), text_column("client"),     text_column("user"),
               text_column("tenant"), text_column("shard"),      text_column("pool"),
               text_column("state"),  text_column("transaction")};
  for (const auto& c : snap.clients)
    r.rows.push_back({std::to_string(c.id), c.client, c.user, c.tenant, c.shard, c.pool, c.state,
                      std::string(1, c.transaction_status)});
  r.tag = "SHOW";
  return r;
}

AdminReply show_servers(const AdminContext& ctx) {
  auto snap = collect_worker_snapshot(ctx.workers, kWorkerTimeout, true);
  std::sort(snap.servers.begin(), snap.servers.end(), [](const ServerRow& a, const ServerRow& b) {
    return std::tie(a.pool, a.pid) < std::tie(b.pool, b.pid);
  });
  AdminReply r;
  r.columns = {text_column("pool"),        text_column("shard"), int_column("worker"),
               int_column("pid"),          text_column("state"), text_column("tenant"),
               float_column("age_seconds")};
  for (const auto& s : snap.servers)
    r.rows.push_back({s.pool, s.shard, std::to_string(s.worker), std::to_string(s.pid), s.state,
                      s.tenant, num(s.age_seconds)});
  r.tag = "SHOW";
  return r;
}

AdminReply show_stats(const AdminContext& ctx) {
  auto rt = ctx.runtime.get();
  uint64_t queries = 0, limited = 0, errors = 0;
  int64_t clients = 0;
  for (const auto& t : ctx.tenants.snapshot()) {
    queries += t->queries.load();
    limited += t->rate_limited.load();
    clients += t->clients.load();
    for (const auto& [cls, n] : t->errors_by_class()) errors += n;
  }
  AdminReply r;
  r.columns = {int_column("directory_tenants"),
               int_column("client_connections"),
               int_column("queries"),
               int_column("rate_limited"),
               int_column("errors"),
               int_column("context_switches"),
               int_column("paused_tenants"),
               int_column("paused_shards")};
  r.rows.push_back({std::to_string(rt->directory->size()), std::to_string(clients),
                    std::to_string(queries), std::to_string(limited), std::to_string(errors),
                    std::to_string(ctx.context_switches.load()),
                    std::to_string(ctx.pauses.paused_tenants().size()),
                    std::to_string(ctx.pauses.paused_shards().size())});
  r.tag = "SHOW";
  return r;
}

AdminReply show_tenants(const AdminContext& ctx, const std::optional<std::string>& pattern,
                        const std::string* only) {
  auto rt = ctx.runtime.get();
  const auto& entries = rt->directory->tenants();
  std::vector<std::string> names;
  if (only) {
    if (!entries.contains(*only))
      return AdminReply::error("3D000", "tenant \"" + *only + "\" is not in the directory",
                               "SHOW TENANTS lists the tenants there are.");
    names.push_back(*only);
  } else {
    for (const auto& [t, p] : entries)
      if (!pattern || routing::like_match(t, *pattern)) names.push_back(t);
    std::sort(names.begin(), names.end());
  }
  AdminReply r;
  r.columns = {text_column("tenant"),  text_column("shard"),       text_column("tier"),
               text_column("schema"),  int_column("clients"),      int_column("queries"),
               float_column("qps"),    int_column("rate_limited"), float_column("p50_ms"),
               float_column("p99_ms"), text_column("state")};
  for (const auto& name : names) {
    const routing::Placement& p = entries.find(name)->second;
    auto state = ctx.tenants.find(name);
    int clients = state ? state->clients.load() : 0;
    uint64_t queries = state ? state->queries.load() : 0;
    uint64_t limited = state ? state->rate_limited.load() : 0;
    auto latency = state ? state->latency.snapshot() : pool::LatencyHistogram::Snapshot{};
    auto q = ctx.qps.find(name);
    std::string status = ctx.pauses.tenant_paused(name)     ? "paused"
                         : ctx.pauses.shard_paused(p.shard) ? "shard paused"
                         : clients > 0                      ? "active"
                                                            : "idle";
    r.rows.push_back({name, p.shard, p.tier, p.schema, std::to_string(clients),
                      std::to_string(queries), num(q == ctx.qps.end() ? 0.0 : q->second),
                      std::to_string(limited), num(latency.quantile(0.5) * 1000),
                      num(latency.quantile(0.99) * 1000), status});
  }
  r.tag = "SHOW";
  return r;
}

}  // namespace shardgate::proxy
