// The cutover: pause the tenant, fence the source, wait until the target has applied
// everything (COPY mode: copy every table, move_copy.cc), carry the sequences over, verify, flip
// the directory (the commit point), retire the source schema, resume. Over the pause budget before
// the flip: back out, and the tenant carries on from the source.
//
// ONLINE moves verify before the cutover, at a point of their own: a short pause with the same
// drain, fence and apply wait, in which each shard opens a REPEATABLE READ snapshot. The tenant
// resumes at once and the two snapshots (the same rows, if the move copied and streamed them
// faithfully) are compared while it works, so no step of the cutover's pause grows with the
// tenant's size.
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

// Byte order, not the database's collation: the two shards' lists must compare equal.
std::string table_names_sql(const MoveRun& run) {
  return "SELECT coalesce(string_agg(c.relname, ', ' ORDER BY c.relname COLLATE \"C\"), '') "
         "FROM " +
         run.tables_from();
}

struct Cutover {
  // COPY mode has no pause budget: the pause lasts as long as the copy.
  Cutover(MoveRun& r, const char* pause_name)
      : run(r),
        name(pause_name),
        copy_mode(r.record.copy_mode()),
        started(Clock::now()),
        deadline(copy_mode ? Clock::time_point::max() : started + r.pause_budget) {}
  MoveRun& run;
  const char* name;  // which pause, for progress lines
  bool copy_mode;
  Clock::time_point started;
  Clock::time_point deadline;
  std::optional<PgLink> fence;  // opened before the pause: connecting is not paused time
  // The schema's table names on each side (table_names_sql): the target's, which only the move
  // changes, read before the pause; the source's under the fence.
  std::string target_tables;
  std::string source_tables;
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
    if (int busy = run.hooks->in_flight(run.record.tenant); busy > 0)
      run.say(std::string(name) + ": paused, waiting for " + std::to_string(busy) +
              " transaction(s) of the tenant to finish");
    while (run.hooks->in_flight(run.record.tenant) > 0) {
      if (auto f = interrupted("waiting for the tenant's transactions to finish")) return f;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::nullopt;
  }

  // The fence: nothing that bypassed the proxy can commit on the source's tables from here on.
  // In the same round trip, the names of the source's tables as they are under it
  // (same_tables).
  Step lock_source() {
    // An autovacuum of a tenant table holds a lock the fence waits for; PostgreSQL cancels it
    // for a waiter at the waiter's deadlock check, one deadlock_timeout (1 s by default) into
    // the wait. Where the control credential may (a superuser: every ONLINE move's), the check
    // runs after 10 ms instead.
    std::string sql = "BEGIN;\nSET LOCAL lock_timeout = '" + std::to_string(remaining_ms()) +
                      "ms';\nSELECT set_config('deadlock_timeout', '10ms', true) WHERE "
                      "has_parameter_privilege('deadlock_timeout', 'SET')";
    if (!run.tables.empty()) {
      sql += ";\nLOCK TABLE ";
      for (size_t i = 0; i < run.tables.size(); ++i)
        sql += (i ? ", " : "") + run.qualified(run.tables[i]);
      sql += " IN EXCLUSIVE MODE";
    }
    auto listed = fence->scalar(sql + ";\n" + table_names_sql(run));
    if (!listed.ok()) {
      if (auto f = over_budget("locking the source's tables")) return f;
      return failure(listed.status());
    }
    source_tables = *listed;
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

  // The tables of the schema on both sides, by name: a table created on the source since the
  // schema step exists only there (DDL is not replicated), its rows would stay behind, and
  // its first change stops the target's apply.
  Step same_tables() const {
    if (source_tables == target_tables) return std::nullopt;
    return failure("55000",
                   "the tenant's tables changed on the source during the move (source: " +
                       source_tables + "; target: " + target_tables + "): rolled back",
                   "Run MOVE again once the schema change is done.");
  }

  // drain, fence and (ONLINE) the apply wait: from here nothing of the tenant's can commit on
  // the source, and the target has every commit the source has.
  Step quiesce() {
    if (auto f = drain()) return f;
    timed("drain");
    if (auto f = lock_source()) return f;
    timed("fence");
    if (copy_mode) return std::nullopt;
    // Before the apply wait: such a table also stops the subscription's apply on the target.
    if (auto f = same_tables()) return f;
    if (auto f = wait_applied()) return f;
    timed("apply");
    return std::nullopt;
  }

  Step snapshot_point(PgLink& source_view, PgLink& target_view) {
    if (auto f = quiesce()) return f;
    const std::string begin = "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1";
    if (auto status = source_view.exec(begin); !status.ok()) return failure(status);
    if (auto status = target_view.exec(begin); !status.ok()) return failure(status);
    timed("snapshots");
    if (auto f = run.cancelled()) return f;
    return over_budget("taking the verification snapshots");
  }

  Step before_flip() {
    if (auto f = quiesce()) return f;
    // COPY: the data goes now, and is verified inside the pause. ONLINE verified before.
    if (copy_mode) {
      if (auto f = copy_tables(run, *fence)) return f;
      timed("copy");
    }
    if (auto f = carry_sequences()) return f;
    timed("sequences");
    if (copy_mode) {
      if (auto f = verify(run, *fence, *run.dst)) return f;
      timed("verify");
    }
    if (auto f = run.cancelled()) return f;
    return over_budget(copy_mode ? "verifying" : "carrying the sequences over");
  }
};

// A connection of its own (the fence, a snapshot), opened before the pause: connecting is not
// paused time.
Step open_link(MoveRun& run, const config::ShardConfig& shard, std::optional<PgLink>& link) {
  auto opened = PgLink::open(shard, PgLink::Credential::kControl, run.config->connect_timeout);
  if (!opened.ok()) return failure(opened.status());
  link.emplace(std::move(*opened));
  return std::nullopt;
}

// What either pause needs before it starts (the fence connection, the target's table names),
// then the pause itself: `c` is the paused state on success.
Step begin_pause(MoveRun& run, const char* name, std::optional<Cutover>& c) {
  if (auto f = run.connect()) return f;
  std::optional<PgLink> fence;
  if (auto f = open_link(run, *run.source, fence)) return f;
  auto target_tables = run.dst->scalar(table_names_sql(run));
  if (!target_tables.ok()) return failure(target_tables.status());
  if (!run.hooks->pause(run.record.tenant))
    return failure("55000", "tenant \"" + run.record.tenant + "\" is paused by an operator",
                   "RESUME TENANT it first, then MOVE again.");
  c.emplace(run, name);
  c->fence = std::move(fence);
  c->target_tables = std::move(*target_tables);
  return std::nullopt;
}

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

}  // namespace

Step verify_online(MoveRun& run) {
  std::optional<PgLink> source_view, target_view;
  if (auto f = open_link(run, *run.source, source_view)) return f;
  if (auto f = open_link(run, *run.target, target_view)) return f;
  std::optional<Cutover> pause;
  if (auto f = begin_pause(run, "verification point", pause)) return f;
  Cutover& c = *pause;
  Step result = c.snapshot_point(*source_view, *target_view);
  c.fence.reset();  // rolls the fence back: the tenant's writes go on from here
  run.hooks->resume(run.record.tenant);
  c.timed("resume");
  run.record.pause_ms = std::max(run.record.pause_ms, elapsed_ms(c.started));
  if (result) return result;
  run.say("verification point: paused " +
          std::to_string(static_cast<int64_t>(elapsed_ms(c.started))) + " ms (" + c.steps +
          " ms); comparing both shards' snapshots while the tenant works");
  return verify(run, *source_view, *target_view);
}

Step cutover(MoveRun& run) {
  const std::string& tenant = run.record.tenant;
  std::optional<Cutover> pause;
  if (auto f = begin_pause(run, "cutover", pause)) return f;
  Cutover& c = *pause;
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
  double paused = elapsed_ms(c.started);
  // The longer of an ONLINE move's two pauses (verification point, cutover).
  run.record.pause_ms = std::max(run.record.pause_ms, paused);
  if (!result)
    run.say(std::string(c.copy_mode ? "copied and flipped" : "cutover done") + ": paused " +
            std::to_string(static_cast<int64_t>(paused)) + " ms (" + c.steps + " ms)");
  return result;
}

}  // namespace shardgate::moves
