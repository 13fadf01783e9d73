// The cutover: pause the tenant, fence the source, wait until the target has applied
// everything, carry the sequences over, verify, flip the directory (the commit point),
// retire the source schema, resume. Over the pause budget before the flip: back out, and the
// tenant carries on from the source.
#include <algorithm>
#include <chrono>
#include <thread>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

namespace {

using routing::quote_ident;
using routing::quote_literal;
using Clock = std::chrono::steady_clock;

struct Cutover {
  explicit Cutover(MoveRun& r)
      : run(r), started(Clock::now()), deadline(started + r.pause_budget) {}
  MoveRun& run;
  Clock::time_point started;
  Clock::time_point deadline;
  std::optional<PgLink> fence;

  Step over_budget(const std::string& step) const {
    if (Clock::now() <= deadline) return std::nullopt;
    return failure("57014",
                   "move " + std::to_string(run.record.id) + " of tenant \"" + run.record.tenant +
                       "\" ran over its pause budget of " +
                       std::to_string(run.pause_budget.count()) + " ms while " + step +
                       ": rolled back, the tenant stays on shard \"" + run.source->name + "\"",
                   "Retry when the tenant is quieter, or give MOVE a larger PAUSE BUDGET.");
  }
  // CANCEL MOVE stops the waits of the cutover as promptly as the budget does.
  Step interrupted(const std::string& step) const {
    if (auto f = run.cancelled()) return f;
    return over_budget(step);
  }
  int64_t remaining_ms() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max<int64_t>(1, left.count());
  }

  Step drain() {
    while (run.hooks->in_flight(run.record.tenant) > 0) {
      if (auto f = interrupted("waiting for the tenant's transactions to finish")) return f;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::nullopt;
  }

  // Nothing that bypassed the proxy can commit on the source's tables from here on.
  Step lock_source() {
    auto link =
        PgLink::open(*run.source, PgLink::Credential::kControl, run.config->connect_timeout);
    if (!link.ok()) return failure(link.status());
    fence.emplace(std::move(*link));
    std::string sql = "BEGIN;\nSET LOCAL lock_timeout = '" + std::to_string(remaining_ms()) + "ms'";
    if (!run.tables.empty()) {
      sql += ";\nLOCK TABLE ";
      for (size_t i = 0; i < run.tables.size(); ++i)
        sql += (i ? ", " : "") + run.qualified(run.tables[i]);
      sql += " IN EXCLUSIVE MODE";
    }
    if (auto status = fence->exec(sql); !status.ok()) {
      if (auto f = over_budget("locking the source's tables")) return f;
      return failure(status);
    }
    return std::nullopt;
  }

  // Commits are applied in commit order: once the marker's new value is on the target, every
  // tenant commit before the fence is there too.
  Step wait_applied() {
    auto marked = run.src->rows("UPDATE " + run.qobject() +
                                ".marker SET v = v + 1 WHERE id = 1 RETURNING v, "
                                "pg_current_wal_lsn()");
    if (!marked.ok()) return failure(marked.status());
    if (marked->empty()) return failure("55000", "the move's marker row is missing on the source");
    std::string expected = marked->at(0)[0].value_or("");
    for (;;) {
      auto seen = run.dst->scalar("SELECT v FROM " + run.qobject() + ".marker WHERE id = 1");
      if (!seen.ok()) return failure(seen.status());
      if (*seen == expected) return std::nullopt;
      if (auto f = interrupted("waiting for the target to apply " +
                               marked->at(0)[1].value_or("the source's last change")))
        return f;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Step carry_sequences() {
    auto seqs = fence->rows(
        "SELECT sequencename, last_value FROM pg_sequences WHERE last_value IS NOT NULL AND "
        "schemaname = " +
        quote_literal(run.record.schema));
    if (!seqs.ok()) return failure(seqs.status());
    if (seqs->empty()) return std::nullopt;
    std::string sql = "SELECT 0";
    for (const auto& s : *seqs) {
      std::string seq = run.qualified(s[0].value_or(""));
      // Never lower: the target's own value wins if it is ahead.
      sql += ", setval(" + quote_literal(seq) + ", greatest(" + s[1].value_or("1") +
             ", (SELECT last_value FROM " + seq + ")))";
    }
    if (auto status = run.dst->exec(sql); !status.ok()) return failure(status);
    return std::nullopt;
  }

  Step verify_counts() {
    if (run.tables.empty()) return std::nullopt;
    std::string sql = "SELECT ";
    for (size_t i = 0; i < run.tables.size(); ++i)
      sql += std::string(i ? ", " : "") + "(SELECT count(*) FROM " + run.qualified(run.tables[i]) +
             ")";
    auto source = fence->rows(sql);
    if (!source.ok()) return failure(source.status());
    auto target = run.dst->rows(sql);
    if (!target.ok()) return failure(target.status());
    int64_t rows = 0;
    for (size_t i = 0; i < run.tables.size(); ++i) {
      auto a = source->at(0)[i].value_or(""), b = target->at(0)[i].value_or("");
      if (a != b)
        return failure("XX001", "verification failed: table " + run.record.schema + "." +
                                    run.tables[i] + " has " + a + " rows on the source and " + b +
                                    " on the target; the move was rolled back");
      rows += std::stoll(a);
    }
    run.record.rows = rows;
    return std::nullopt;
  }

  Step before_flip() {
    if (auto f = drain()) return f;
    if (auto f = lock_source()) return f;
    if (auto f = wait_applied()) return f;
    if (auto f = carry_sequences()) return f;
    if (auto f = verify_counts()) return f;
    if (auto f = run.cancelled()) return f;
    return over_budget("verifying");
  }
};

}  // namespace

Step cutover(MoveRun& run) {
  if (auto f = run.connect()) return f;
  const std::string& tenant = run.record.tenant;
  if (!run.hooks->pause(tenant))
    return failure("55000", "tenant \"" + tenant + "\" is paused by an operator",
                   "RESUME TENANT it first, then MOVE again.");
  Cutover c(run);
  Step result = c.before_flip();
  if (!result) {
    if (auto status = run.hooks->flip(tenant, run.target->name); !status.ok())
      result = failure("58030", "could not flip the directory: " + std::string(status.message()));
  }
  if (!result) {
    run.failpoint("flipped");
    run.record.flipped = true;
    (void)run.journal->put(run.record);  // the directory is the commit point; this is a note
    // Best effort inside the fence; the cleanup step does it again if this fails.
    if (retire_source_schema(run, *c.fence).ok()) (void)c.fence->exec("COMMIT");
  }
  c.fence.reset();  // without COMMIT: rolls the fence back and releases the locks
  run.hooks->resume(tenant);
  run.record.pause_ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
  if (!result)
    run.say("cutover done: paused " + std::to_string(static_cast<int64_t>(run.record.pause_ms)) +
            " ms");
  return result;
}

}  // namespace shardgate::moves
