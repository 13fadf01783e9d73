// The move journal: every move's phase and what it may have created, made durable before
// each step, so a restarted proxy can finish or roll back what a crash interrupted. A YAML
// file next to the directory file (<directory.file>.moves), replaced atomically on every
// change. Blocking file I/O: move threads and start-up only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardgate::moves {

enum class MovePhase {
  kPlanned,
  kSchema,
  kCopy,
  kCatchup,
  kCutover,
  kCleanup,
  kDone,
  kRolledBack,
  kFailed
};

std::string_view phase_name(MovePhase phase);
std::optional<MovePhase> phase_from_name(std::string_view name);
// done and rolled_back: nothing of the move is left to undo or finish.
bool phase_final(MovePhase phase);

struct MoveRecord {
  uint64_t id = 0;
  std::string tenant;
  std::string from;              // source shard
  std::string to;                // target shard
  std::string schema;            // the tenant's schema (same name on both shards)
  std::string role;              // the tier's role for the tenant ("" when none)
  std::string mode = "online";   // "online" or "copy"
  std::string subscription_oid;  // on the target, once created (names its table-sync slots)
  MovePhase phase = MovePhase::kPlanned;
  bool target_schema_ours = false;  // pre-checks passed: a target schema of that name is ours
  bool role_created = false;        // the move created the role on the target: rollback drops it
  bool flipped = false;             // the directory names the target (the commit point)
  bool data_dropped = false;        // DROP MOVED DATA ran
  bool settled = false;             // failed cleanup retried to the end: nothing left (in memory)
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t lag_bytes = 0;
  double copy_seconds = 0;
  double pause_ms = 0;
  std::string started;  // UTC timestamps
  std::string updated;
  std::string error;

  // COPY mode: no replication; the data is copied inside the pause.
  bool copy_mode() const { return mode == "copy"; }
  // Every database object of the move carries this in its name.
  std::string object_name() const { return "sg_move_" + std::to_string(id); }
  std::string moved_schema() const { return schema + "__moved_" + std::to_string(id); }
};

using WriteFile = std::function<absl::Status(const std::string& path, const std::string& text)>;

class MoveJournal {
 public:
  MoveJournal(std::string path, WriteFile write)
      : path_(std::move(path)), write_(std::move(write)) {}

  // Reads the file (a missing file is an empty journal).
  absl::Status load();
  // A new id, made durable before it is handed out.
  absl::StatusOr<uint64_t> next_id();
  // Records the move's state durably (stamps `updated`).
  absl::Status put(MoveRecord& record);
  std::vector<MoveRecord> records() const;
  std::optional<MoveRecord> find(uint64_t id) const;
  const std::string& path() const { return path_; }

  // The text form (exposed for tests).
  static std::string format(uint64_t next_id, const std::map<uint64_t, MoveRecord>& records);
  static absl::Status parse(const std::string& text, uint64_t& next_id,
                            std::map<uint64_t, MoveRecord>& records);

 private:
  absl::Status save_locked();

  std::string path_;
  WriteFile write_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, MoveRecord> records_;
};

std::string utc_now();

}  // namespace shardgate::moves
