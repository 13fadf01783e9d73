// One move in progress: its journal record, the shards it works on, the hooks into the proxy
// (pause, directory flip) and the steps, each in the file named for it. Runs on the move's
// own thread; every step is safe to run again after a crash.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "proxy/moves/move_journal.h"
#include "proxy/moves/pg_link.h"
#include "routing/directory.h"

namespace shardgate::moves {

// What the proxy lends a move. Every function may be called from a move thread.
struct MoveHooks {
  std::function<config::ConfigPtr()> config;
  // The tenant's placement in the running directory.
  std::function<std::optional<routing::Placement>(const std::string& tenant)> placement;
  // Pauses the tenant's new transactions; false when it was already paused.
  std::function<bool(const std::string& tenant)> pause;
  std::function<void(const std::string& tenant)> resume;
  // The tenant's transactions in flight right now.
  std::function<int(const std::string& tenant)> in_flight;
  // Rewrites the directory durably with the tenant on `shard` and swaps it in, serialized
  // with every other directory change.
  std::function<absl::Status(const std::string& tenant, const std::string& shard)> flip;
  // The tier's role for the tenant: its name ("" when none) and the SQL that creates it on a
  // shard ("" when the role is shared by the tier's tenants and managed by the operator).
  struct TenantRole {
    std::string name;
    std::string create_sql;
  };
  std::function<absl::StatusOr<TenantRole>(const config::TierConfig& tier,
                                           const std::string& tenant)>
      tenant_role;
  // Opens the tenant's pool on `shard` with a live connection logged in as its clients'
  // will be; the error says why the shard refused it.
  std::function<absl::Status(const std::string& tenant, const std::string& shard)> open_pool;
  // The proxy's log, for every progress line of a move (the admin client that ran MOVE gets
  // them as NOTICEs; REBALANCE's and a restart's moves have nobody else to tell).
  std::function<void(const std::string& tenant, const std::string& text)> log;
  WriteFile write_file;
};

struct MoveFailure {
  std::string sqlstate;
  std::string message;
  std::string hint;
};
using Step = std::optional<MoveFailure>;

Step failure(std::string sqlstate, std::string message, std::string hint = {});
Step failure(const absl::Status& status);

struct MoveRun {
  MoveRecord record;
  config::ConfigPtr config;
  const config::ShardConfig* source = nullptr;
  const config::ShardConfig* target = nullptr;
  const config::TierConfig* tier = nullptr;
  config::Duration pause_budget{2000};
  std::atomic<bool>* cancel = nullptr;
  MoveHooks* hooks = nullptr;
  MoveJournal* journal = nullptr;
  std::function<void(const std::string&)> notice;  // progress for the admin client
  // Control-credential connections, opened by the first step that needs them.
  std::optional<PgLink> src;
  std::optional<PgLink> dst;
  std::vector<std::string> tables;  // the schema's tables, names unquoted

  Step connect();  // both shards
  Step connect_source();
  Step connect_target();
  // Journals the phase before its step runs.
  Step enter(MovePhase phase);
  Step cancelled() const;
  // Test-only: holds the move at a named point (see move_runner.cc); no-op unless armed.
  void failpoint(std::string_view point) const;
  void say(const std::string& text) const;
  std::string qschema() const;  // the tenant schema, quoted
  std::string qobject() const;  // sg_move_<id>, quoted
  std::string qualified(const std::string& table) const;
  // The one listing of the tenant's tables: "pg_class c JOIN pg_namespace n ... WHERE" the
  // schema's tables, to follow FROM. Partitioned parents too, unless `leaves_only` (they hold
  // no rows of their own: COPY copies their partitions).
  std::string tables_from(bool leaves_only = false) const;
};

// --- steps, by file ---
// move_checks.cc: refuses loudly before anything is created.
Step precheck(MoveRun& run);
// move_schema.cc: role, schema (pg_dump) and marker on the target.
Step copy_schema(MoveRun& run);
// move_replication.cc
Step start_replication(MoveRun& run);
Step wait_for_copy(MoveRun& run);
Step catch_up(MoveRun& run);
// Bumps the move's marker on the source and polls the target every 10 ms until it shows the
// new value: logical replication applies commits in commit order, so every source commit
// before the bump is applied then. `check` runs between polls with the bump's LSN and ends
// the wait with its failure.
Step await_marker(MoveRun& run, const std::function<Step(const std::string& lsn)>& check);
// Drops subscription, slots, publication and marker schemas of the move on both shards.
absl::Status drop_replication(MoveRun& run);
// Rollback: the target's copy of the schema (and the role the move created).
absl::Status drop_target_copy(MoveRun& run);
// Completion: the source schema renamed <schema>__moved_<id> with every grant revoked.
// `link` may be the fence transaction's connection.
absl::Status retire_source_schema(MoveRun& run, PgLink& link);
// move_cutover.cc: pause, fence, data (replicated or copied), sequences, verify, flip.
Step cutover(MoveRun& run);
// ONLINE: a short pause in which both shards take a snapshot at the same point, then the
// verification of those snapshots while the tenant works.
Step verify_online(MoveRun& run);
// move_copy.cc: COPY mode's data, streamed from the fence transaction's connection.
Step copy_tables(MoveRun& run, PgLink& fence);
// move_verify.cc: row counts and checksums of every table, read on both shards at once
// (`source` lists the tables: the fence, or a snapshot).
Step verify(MoveRun& run, PgLink& source, PgLink& target);
// move_runner.cc: the whole move, and settling a move a crash or failure left unfinished.
Step run_move(MoveRun& run);  // the first failure, or none when done
Step settle_move(MoveRun& run);

}  // namespace shardgate::moves
