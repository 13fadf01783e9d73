// COPY mode's data step, inside the cutover's pause and fence: every table of the schema is
// streamed with COPY ... TO STDOUT (FORMAT binary) from the fence transaction on the source
// into COPY ... FROM STDIN on the target. The fence's snapshot is the copy's: nothing can
// commit on the source's tables while it is held.
#include <chrono>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kReport = std::chrono::seconds(1);

// Copies one table; adds its rows and bytes to the record.
Step copy_table(MoveRun& run, PgLink& fence, const std::string& table) {
  std::string name = run.record.schema + "." + table;
  auto last_report = Clock::now();
  int64_t copied = 0;
  auto keep_going = [&](int64_t bytes) {
    copied = bytes;
    if (run.cancel && run.cancel->load()) return false;
    if (Clock::now() - last_report >= kReport) {
      last_report = Clock::now();
      run.say("copying " + name + ": " + std::to_string(bytes) + " bytes so far");
    }
    return true;
  };
  std::string qualified = run.qualified(table);
  auto rows = fence.copy_into(*run.dst, "COPY " + qualified + " TO STDOUT (FORMAT binary)",
                              "COPY " + qualified + " FROM STDIN (FORMAT binary)", keep_going);
  if (auto f = run.cancelled()) return f;
  if (!rows.ok())
    return failure("55000",
                   "copying table " + name + " failed: " + std::string(rows.status().message()));
  run.record.rows += std::max<int64_t>(0, *rows);
  run.record.bytes += copied;
  (void)run.journal->put(run.record);  // SHOW MOVES shows the progress
  run.say("copied " + name + ": " + std::to_string(*rows) + " rows, " + std::to_string(copied) +
          " bytes");
  return std::nullopt;
}

}  // namespace

Step copy_tables(MoveRun& run, PgLink& fence) {
  auto started = Clock::now();
  run.record.rows = 0;
  run.record.bytes = 0;
  // As logical replication applies rows: ordinary triggers and foreign-key checks do not fire,
  // so tables can be filled in any order and keep exactly the source's rows.
  if (auto status = run.dst->exec("SET session_replication_role = replica"); !status.ok())
    return failure(status);
  // Partitioned parents hold no rows of their own (and cannot be COPY'd): their partitions are
  // tables of the schema too.
  auto tables = fence.rows("SELECT c.relname FROM " + run.tables_from(true) + " ORDER BY 1");
  if (!tables.ok()) return failure(tables.status());
  Step result;
  for (const auto& row : *tables) {
    const std::string table = row[0].value_or("");
    if ((result = run.cancelled())) break;
    if ((result = copy_table(run, fence, table))) break;
  }
  (void)run.dst->exec("SET session_replication_role = origin");
  run.record.copy_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!result)
    run.say("copy done: " + std::to_string(run.record.rows) + " rows, " +
            std::to_string(run.record.bytes) + " bytes in " +
            std::to_string(run.record.copy_seconds).substr(0, 5) + " s");
  return result;
}

}  // namespace shardgate::moves
