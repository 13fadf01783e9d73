// A move from start to end, and settling one that a crash, a failure or a cancel left
// unfinished: the directory says whether it flipped; before the flip everything the move
// created is dropped, after it the move is completed.
#include <chrono>
#include <cstdlib>
#include <thread>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

Step failure(std::string sqlstate, std::string message, std::string hint) {
  return MoveFailure{std::move(sqlstate), std::move(message), std::move(hint)};
}

Step failure(const absl::Status& status) {
  std::string sqlstate = status.code() == absl::StatusCode::kUnavailable ? "08006" : "55000";
  return MoveFailure{sqlstate, std::string(status.message()), {}};
}

Step MoveRun::connect_source() {
  if (src && src->alive()) return std::nullopt;
  src.reset();
  auto link = PgLink::open(*source, PgLink::Credential::kControl, config->connect_timeout);
  if (!link.ok()) return failure(link.status());
  src.emplace(std::move(*link));
  return std::nullopt;
}

Step MoveRun::connect_target() {
  if (dst && dst->alive()) return std::nullopt;
  dst.reset();
  auto link = PgLink::open(*target, PgLink::Credential::kControl, config->connect_timeout);
  if (!link.ok()) return failure(link.status());
  dst.emplace(std::move(*link));
  return std::nullopt;
}

Step MoveRun::connect() {
  if (auto f = connect_source()) return f;
  return connect_target();
}

Step MoveRun::enter(MovePhase phase) {
  record.phase = phase;
  if (phase == MovePhase::kSchema) record.target_schema_ours = true;
  if (auto status = journal->put(record); !status.ok())
    return failure("58030", "could not write the move journal: " + std::string(status.message()));
  failpoint(phase_name(phase));
  return std::nullopt;
}

Step MoveRun::cancelled() const {
  if (cancel && cancel->load())
    return failure("57014", "move " + std::to_string(record.id) + " was cancelled");
  return std::nullopt;
}

// Test-only knob (docs/moves.md, "How it is tested"): SHARDGATE_MOVE_FAILPOINT="<point>=sleep:<ms>"
// holds every move for <ms> at <point>, so a test can kill or cancel it in a phase too short
// to hit by timing. Points: "planned" (before the pre-checks), a phase name (just after it is
// journaled), "verified" (an ONLINE move's verification done, before its cutover), "flipped"
// (after the directory flip, before the source schema is retired), "rolling_back" (a rollback
// half done: replication dropped, the target's copy not yet).
// CANCEL MOVE ends the wait early.
void MoveRun::failpoint(std::string_view point) const {
  static const std::pair<std::string, int64_t> armed = []() -> std::pair<std::string, int64_t> {
    const char* env = std::getenv("SHARDGATE_MOVE_FAILPOINT");
    std::string_view spec = env ? env : "";
    constexpr std::string_view kSleep = "=sleep:";
    auto at = spec.find(kSleep);
    if (at == std::string_view::npos) return {};
    return {std::string(spec.substr(0, at)),
            std::atoll(std::string(spec.substr(at + kSleep.size())).c_str())};
  }();
  if (armed.first.empty() || armed.first != point) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(armed.second);
  while (std::chrono::steady_clock::now() < until && !cancelled())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void MoveRun::say(const std::string& text) const {
  std::string line = "move " + std::to_string(record.id) + ": " + text;
  if (hooks && hooks->log) hooks->log(record.tenant, line);
  if (notice) notice(line);
}

std::string MoveRun::qschema() const { return routing::quote_ident(record.schema); }
std::string MoveRun::qobject() const { return routing::quote_ident(record.object_name()); }
std::string MoveRun::qualified(const std::string& table) const {
  return qschema() + "." + routing::quote_ident(table);
}
std::string MoveRun::tables_from(bool leaves_only) const {
  return std::string("pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ") +
         (leaves_only ? "c.relkind = 'r'" : "c.relkind IN ('r', 'p')") +
         " AND n.nspname = " + routing::quote_literal(record.schema);
}

namespace {

// Ends the move with `phase`, keeping the first error.
void finish(MoveRun& run, MovePhase phase, const std::string& error) {
  run.record.phase = phase;
  if (run.record.error.empty()) run.record.error = error;
  (void)run.journal->put(run.record);
}

constexpr std::string_view kIncomplete = "cleanup incomplete: ";

// The error that ended the move, without what an earlier failed cleanup added to it.
std::string first_cause(const std::string& error) {
  std::string cause = error.substr(0, error.find(kIncomplete));
  while (!cause.empty() && (cause.back() == ' ' || cause.back() == ';')) cause.pop_back();
  return cause;
}

// A shard could not be reached (or refused) while cleaning up: the move stays `failed`, its
// error saying what went wrong first and what is still to do, for CANCEL MOVE or the next
// start to settle.
void cleanup_failed(MoveRun& run, const absl::Status& status) {
  std::string cause = first_cause(run.record.error);
  run.record.error = (cause.empty() ? "" : cause + "; ") + std::string(kIncomplete) +
                     std::string(status.message());
  run.record.phase = MovePhase::kFailed;
  (void)run.journal->put(run.record);
  run.say(run.record.error);
}

// What MOVE or CANCEL MOVE answers for a move left `failed`.
Step left_failed(const MoveRun& run, std::string sqlstate) {
  std::string id = std::to_string(run.record.id);
  return failure(std::move(sqlstate), "move " + id + " failed: " + run.record.error,
                 "CANCEL MOVE " + id +
                     " retries the cleanup once both shards are reachable; so does a restart.");
}

void roll_back(MoveRun& run, const std::string& why) {
  run.say("rolling back: " + why);
  run.record.error = first_cause(run.record.error.empty() ? why : run.record.error);
  auto status = drop_replication(run);
  run.failpoint("rolling_back");
  if (status.ok() && run.record.target_schema_ours) status = drop_target_copy(run);
  if (!status.ok()) return cleanup_failed(run, status);
  finish(run, MovePhase::kRolledBack, why);
  run.say("rolled back: nothing of the move is left on either shard");
}

void complete(MoveRun& run) {
  run.record.flipped = true;
  if (auto f = run.enter(MovePhase::kCleanup)) {
    finish(run, MovePhase::kFailed, f->message);
    return;
  }
  auto status = drop_replication(run);
  if (status.ok()) {
    if (auto f = run.connect_source())
      status = absl::UnavailableError(f->message);
    else
      status = retire_source_schema(run, *run.src);
  }
  if (!status.ok()) return cleanup_failed(run, status);
  run.record.error.clear();
  finish(run, MovePhase::kDone, "");
  run.say("done: tenant \"" + run.record.tenant + "\" is on shard \"" + run.target->name +
          "\"; the source schema is kept as " + run.record.moved_schema() +
          " until DROP MOVED DATA " + std::to_string(run.record.id));
}

// The pool the tenant's clients will use on the target, opened before the pause: its first
// transactions there need no new connection, and a login the target refuses (a `login:
// tenant` role without its password, say) fails the move while the tenant is still served.
Step open_target_pool(MoveRun& run) {
  if (!run.hooks->open_pool) return std::nullopt;
  if (auto status = run.hooks->open_pool(run.record.tenant, run.target->name); !status.ok())
    return failure(status);
  run.say("pool opened on " + run.target->name);
  return std::nullopt;
}

// ONLINE mode's data: logical replication up to a small lag.
Step replicate(MoveRun& run) {
  if (auto f = start_replication(run)) return f;
  if (auto f = wait_for_copy(run)) return f;
  if (auto f = run.enter(MovePhase::kCatchup)) return f;
  return catch_up(run);
}

Step run_steps(MoveRun& run) {
  run.failpoint("planned");
  if (auto f = precheck(run)) return f;
  run.say("pre-checks passed (" + std::to_string(run.tables.size()) + " table(s))");
  if (auto f = run.cancelled()) return f;
  if (auto f = run.enter(MovePhase::kSchema)) return f;
  if (auto f = copy_schema(run)) return f;
  if (auto f = run.cancelled()) return f;
  if (auto f = run.enter(MovePhase::kCopy)) return f;
  if (!run.record.copy_mode())
    if (auto f = replicate(run)) return f;
  if (auto f = open_target_pool(run)) return f;
  // COPY mode copies inside the cutover's pause and stays in phase copy; a crash there settles
  // by the directory like any phase (rolled back before the flip, completed after it).
  if (!run.record.copy_mode()) {
    // Still phase catchup: nothing durable changes until the flip.
    if (auto f = verify_online(run)) return f;
    run.failpoint("verified");
    if (auto f = catch_up(run)) return f;  // what the tenant wrote during the comparison
    if (auto f = run.enter(MovePhase::kCutover)) return f;
  }
  return cutover(run);
}

}  // namespace

Step run_move(MoveRun& run) {
  Step f = run_steps(run);
  if (run.record.flipped) {
    complete(run);
    if (run.record.phase == MovePhase::kDone) return std::nullopt;
    return left_failed(run, "55000");
  }
  if (!f) f = failure("XX000", "move ended without a flip");
  if (run.record.phase == MovePhase::kPlanned) {
    // Refused by a pre-check: nothing was created.
    run.record.error = f->message;
    finish(run, MovePhase::kRolledBack, f->message);
    return f;
  }
  roll_back(run, f->message);
  if (run.record.phase == MovePhase::kFailed) return left_failed(run, f->sqlstate);
  return f;
}

Step settle_move(MoveRun& run) {
  auto placement = run.hooks->placement(run.record.tenant);
  bool flipped = placement && placement->shard == run.record.to;
  if (flipped) {
    complete(run);
  } else if (run.record.phase == MovePhase::kPlanned) {
    finish(run, MovePhase::kRolledBack, "interrupted before it created anything");
  } else {
    roll_back(run, run.record.error.empty()
                       ? "interrupted in phase " + std::string(phase_name(run.record.phase))
                       : run.record.error);
  }
  if (phase_final(run.record.phase)) return std::nullopt;
  return left_failed(run, "55000");
}

}  // namespace shardgate::moves
