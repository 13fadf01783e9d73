#include "proxy/moves/move_verify.h"

#include <chrono>
#include <future>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

std::string verification_sql(const std::vector<VerifiedTable>& tables) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < tables.size(); ++i) {
    if (i) sql += ", ";
    const std::string& t = tables[i].qualified;
    // ROW(sg_row.*) is the whole row even when a column is named like the alias.
    if (tables[i].checksum)
      sql +=
          "(SELECT count(*) || '/' || coalesce(sum(hashtextextended(ROW(sg_row.*)::text, 0)), "
          "0) FROM " +
          t + " sg_row)";
    else
      sql += "(SELECT count(*)::text FROM " + t + ")";
  }
  return sql;
}

int64_t verified_rows(const std::string& value) {
  try {
    return std::stoll(value.substr(0, value.find('/')));
  } catch (...) {
    return 0;
  }
}

std::string verification_mismatch(const std::string& source, const std::string& target) {
  if (source == target) return "";
  std::string a = source.substr(0, source.find('/')), b = target.substr(0, target.find('/'));
  if (a != b) return "has " + a + " rows on the source and " + b + " on the target";
  return "has " + a + " rows on both shards but they differ (row checksum " +
         source.substr(a.size() + 1) + " on the source, " + target.substr(b.size() + 1) +
         " on the target)";
}

Step verify(MoveRun& run, PgLink& source, PgLink& target) {
  auto sizes = source.rows(
      "SELECT c.relname, (SELECT coalesce(sum(pg_relation_size(relid)), 0) FROM "
      "pg_partition_tree(c.oid)) FROM " +
      run.tables_from() + " ORDER BY 1");
  if (!sizes.ok()) return failure(sizes.status());
  if (sizes->empty()) return std::nullopt;
  std::vector<VerifiedTable> tables;
  for (const auto& r : *sizes)
    tables.push_back(
        {run.qualified(r[0].value_or("")),
         std::stoll(r[1].value_or("0")) <= checksum_max_bytes(run.record.copy_mode())});
  std::string sql = verification_sql(tables);
  // Both shards at once: the comparison (inside COPY mode's pause) lasts as long as the slower
  // side, not the sum.
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  Clock::time_point target_done;
  // CANCEL MOVE stops a long comparison (an ONLINE move's runs while the tenant works).
  auto keep_going = [&run] { return !run.cancelled(); };
  auto target_rows = std::async(std::launch::async, [&] {
    auto r = target.rows(sql, keep_going);
    target_done = Clock::now();
    return r;
  });
  auto on_source = source.rows(sql, keep_going);
  auto source_done = Clock::now();
  auto on_target = target_rows.get();
  auto ms = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count();
  };
  run.say("verify: source " + std::to_string(ms(source_done)) + " ms, target " +
          std::to_string(ms(target_done)) + " ms");
  if (auto f = run.cancelled()) return f;
  if (!on_source.ok()) return failure(on_source.status());
  if (!on_target.ok()) return failure(on_target.status());
  int64_t rows = 0;
  for (size_t i = 0; i < tables.size(); ++i) {
    std::string a = on_source->at(0)[i].value_or(""), b = on_target->at(0)[i].value_or("");
    if (std::string why = verification_mismatch(a, b); !why.empty())
      return failure("XX001", "verification failed: table " + run.record.schema + "." +
                                  sizes->at(i)[0].value_or("") + " " + why +
                                  "; the move was rolled back");
    rows += verified_rows(a);
  }
  // COPY mode counted what it copied; partitioned parents would count their rows twice here.
  if (!run.record.copy_mode()) run.record.rows = rows;
  return std::nullopt;
}

}  // namespace shardgate::moves
