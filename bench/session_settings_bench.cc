// Google benchmarks of the settings check every request that may queue behind another makes
// (SessionSettings::in_sync: does the busy connection already hold this client's settings?),
// against the copy-and-sync it replaced. The client is pgbench's: three startup settings, one
// committed SET, and a connection that holds them all.
//
//   ninja -C build-bench sg_bench && build-bench/bench/sg_bench --benchmark_filter=InSync
#include <benchmark/benchmark.h>

#include "proxy/session/session_settings.h"
#include "routing/guard/statement.h"

namespace {

using shardgate::proxy::AppliedSettings;
using shardgate::proxy::SessionSettings;

struct Client {
  SessionSettings settings;
  AppliedSettings conn;
  Client() {
    settings.add_startup("DateStyle", "ISO, MDY");
    settings.add_startup("application_name", "pgbench");
    settings.add_startup("client_encoding", "UTF8");
    settings.note_statement(shardgate::routing::inspect_statement("SET work_mem = '8MB'"));
    settings.end_request();
    settings.ready('I', conn);
    settings.sync(conn);
  }
};

void BM_InSync(benchmark::State& state) {
  Client c;
  for (auto _ : state) benchmark::DoNotOptimize(c.settings.in_sync(c.conn));
}
BENCHMARK(BM_InSync);

// What in_sync did before: a copy of the connection's settings, synced, found unchanged.
void BM_InSyncByCopyAndSync(benchmark::State& state) {
  Client c;
  for (auto _ : state) {
    AppliedSettings copy = c.conn;
    benchmark::DoNotOptimize(c.settings.sync(copy).empty());
  }
}
BENCHMARK(BM_InSyncByCopyAndSync);

}  // namespace
