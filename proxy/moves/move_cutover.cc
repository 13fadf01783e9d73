// The cutover: pause the tenant, fence the source, wait until the target has applied
// everything (COPY mode: copy every table, move_copy.cc), carry the sequences over, verify, flip
// the directory (the commit point), retire the source schema, resume. Over the pause budget before
// the flip: back out, and the tenant carries on from the source.
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

// How long COPY mode's fence waits for locks held outside the proxy (there is no budget).
constexpr auto kCopyLockTimeout = std::chrono::milliseconds(60000);

struct Cutover {
  // COPY mode has no pause budget: the pause lasts as long as the copy.
  explicit Cutover(MoveRun& r)
      : run(r),
        copy_mode(r.record.copy_mode()),
        started(Clock::now()),
        deadline(copy_mode ? Clock::time_point::max() : started + r.pause_budget) {}
  MoveRun& run;
  bool copy_mode;
  Clock::time_point started;
  Clock::time_point deadline;
  std::optional<PgLink> fence;  // opened before the pause: connecting is not paused time
  // Where the pause went, step by step, for the cutover's NOTICE and the log.
  std::string steps;
  Clock::time_point step_started = started;

  void timed(const char* step) {
    auto now = Clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - step_started).count();
    steps += (steps.empty() ? "" : ", ") + std::string(step) + " " + std::to_string(ms);
    step_started = now;
  }

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
    if (copy_mode) return kCopyLockTimeout.count();
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

  // Once the marker's new value is on the target, every tenant commit before the fence is.
  Step wait_applied() {
    return await_marker(run, [this](const std::string& lsn) {
      return interrupted("waiting for the target to apply " + lsn);
    });
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

  Step before_flip() {
    if (auto f = drain()) return f;
    timed("drain");
    if (auto f = lock_source()) return f;
    timed("fence");
    // ONLINE: the target has applied everything before the fence; COPY: the data goes now.
    if (auto f = copy_mode ? copy_tables(run, *fence) : wait_applied()) return f;
    timed(copy_mode ? "copy" : "apply");
    if (auto f = carry_sequences()) return f;
    timed("sequences");
    if (auto f = verify(run, *fence)) return f;
    timed("verify");
    if (auto f = run.cancelled()) return f;
    return over_budget("verifying");
  }
};

Step open_fence(MoveRun& run, std::optional<PgLink>& fence) {
  auto link = PgLink::open(*run.source, PgLink::Credential::kControl, run.config->connect_timeout);
  if (!link.ok()) return failure(link.status());
  fence.emplace(std::move(*link));
  return std::nullopt;
}

}  // namespace

Step cutover(MoveRun& run) {
  if (auto f = run.connect()) return f;
  std::optional<PgLink> fence;
  if (auto f = open_fence(run, fence)) return f;
  const std::string& tenant = run.record.tenant;
  if (!run.hooks->pause(tenant))
    return failure("55000", "tenant \"" + tenant + "\" is paused by an operator",
                   "RESUME TENANT it first, then MOVE again.");
  Cutover c(run);
  c.fence = std::move(fence);
  Step result = c.before_flip();
  if (!result) {
    if (auto status = run.hooks->flip(tenant, run.target->name); !status.ok())
      result = failure("58030", "could not flip the directory: " + std::string(status.message()));
    c.timed("flip");
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
  c.timed("retire and resume");
  run.record.pause_ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
  if (!result)
    run.say(std::string(c.copy_mode ? "copied and flipped" : "cutover done") + ": paused " +
            std::to_string(static_cast<int64_t>(run.record.pause_ms)) + " ms (" + c.steps + " ms)");
  return result;
}

}  // namespace shardgate::moves
