// The guard's cost per statement: cold (parse with libpg_query and walk the tree) against
// cached (StatementCache hash lookup) plus judge(). The cached path is what repeated and
// prepared statements pay on every execution; the plain scan, what a simple-protocol
// statement pays before either.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "routing/guard/guard.h"
#include "routing/guard/plain_statement.h"
#include "routing/guard/statement.h"
#include "routing/guard/statement_cache.h"

namespace {

using namespace shardgate::routing;

const std::vector<std::string>& statements() {
  static const std::vector<std::string> s = {
      // pgbench select-only and TPC-B-like statements.
      "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
      "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
      "CURRENT_TIMESTAMP)",
      // An ORM-style query with joins, a CTE and a subquery.
      "WITH recent AS (SELECT id, customer_id, total FROM tenant_acme.orders WHERE created_at > "
      "now() - interval '7 days') SELECT c.id, c.name, sum(r.total) AS total, (SELECT count(*) "
      "FROM tenant_acme.order_items oi WHERE oi.order_id = ANY(array_agg(r.id))) AS items FROM "
      "tenant_acme.customers c JOIN recent r ON r.customer_id = c.id LEFT JOIN "
      "reference.countries co ON co.code = c.country WHERE c.active AND c.name ILIKE $1 GROUP "
      "BY c.id, c.name ORDER BY total DESC LIMIT 50",
      "SET shardgate.tenant = 'acme'",
  };
  return s;
}

GuardPolicy policy() {
  static const std::vector<std::string> shared = {"reference"};
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  p.shared_schemas = &shared;
  return p;
}

// Cold: every statement parsed again (what a cache miss costs).
void BM_GuardCold(benchmark::State& state) {
  const std::string& sql = statements()[state.range(0)];
  GuardPolicy p = policy();
  for (auto _ : state) {
    StatementInfo info = inspect_statement(sql);
    benchmark::DoNotOptimize(judge(info, p).allowed);
  }
  state.SetLabel(sql.substr(0, 40));
}
BENCHMARK(BM_GuardCold)->DenseRange(0, 4);

// Cached: a hash lookup in a warm StatementCache, then judge().
void BM_GuardCached(benchmark::State& state) {
  const std::string& sql = statements()[state.range(0)];
  GuardPolicy p = policy();
  StatementCache cache;
  cache.get(sql);
  for (auto _ : state) {
    auto info = cache.get(sql);
    benchmark::DoNotOptimize(judge(*info, p).allowed);
  }
  state.SetLabel(sql.substr(0, 40));
}
BENCHMARK(BM_GuardCached)->DenseRange(0, 4);

// Cached lookups spread over a full cache of 10000 distinct texts (hash-table misses in the
// CPU cache, LRU relinking).
void BM_GuardCachedManyTexts(benchmark::State& state) {
  GuardPolicy p = policy();
  StatementCache cache;
  std::vector<std::string> texts;
  for (int i = 0; i < 10000; ++i) {
    texts.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i));
    cache.get(texts.back());
  }
  size_t i = 0;
  for (auto _ : state) {
    auto info = cache.get(texts[i]);
    benchmark::DoNotOptimize(judge(*info, p).allowed);
    i = (i + 7919) % texts.size();
  }
}
BENCHMARK(BM_GuardCachedManyTexts);

// judge() alone on a cached result.
void BM_GuardJudgeOnly(benchmark::State& state) {
  StatementInfo info = inspect_statement(statements()[3]);
  GuardPolicy p = policy();
  for (auto _ : state) benchmark::DoNotOptimize(judge(info, p).allowed);
}
BENCHMARK(BM_GuardJudgeOnly);

// The no-parse fast path every simple-protocol statement meets first: is_plain_statement over
// pgbench's select-only statement with a literal key, as pgbench -M simple sends it.
void BM_GuardPlainScan(benchmark::State& state) {
  const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = 873412;";
  for (auto _ : state) benchmark::DoNotOptimize(is_plain_statement(sql));
}
BENCHMARK(BM_GuardPlainScan);

}  // namespace
