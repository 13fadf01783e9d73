// Every move of this process: starts each on a thread of its own, relays its progress to the
// admin client that asked for it, cancels it, settles at start-up what a crash left in the
// journal, and counts results for /metrics. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "proxy/moves/move_run.h"

namespace shardgate::moves {

struct MoveRequest {
  std::string tenant;
  std::string to;
  bool copy_mode = false;
  std::optional<config::Duration> pause_budget;
};

// A running or finished move as its admin client sees it.
struct MoveProgress {
  std::vector<std::string> notices;  // since the last call
  bool finished = false;
  MoveRecord record;
  std::optional<MoveFailure> failure;
};

struct MoveMetrics {
  std::map<std::string, uint64_t> results;  // done, rolled_back, failed
  std::vector<double> pause_seconds;        // every cutover's pause, in order
  uint64_t copied_bytes = 0;
  std::map<std::string, int64_t> lag_bytes;  // tenant -> lag of its running move
};

class MoveManager {
 public:
  MoveManager(std::string journal_path, MoveHooks hooks);
  ~MoveManager();  // cancels running moves and waits for them to roll back

  // Reads the journal; the proxy refuses to start on an unreadable one.
  absl::Status load();
  // Settles every unfinished move of the journal, one after another, on a thread.
  void recover();

  std::variant<uint64_t, MoveFailure> start(const MoveRequest& request);
  MoveProgress progress(uint64_t id);
  std::vector<MoveRecord> list() const;
  std::optional<MoveRecord> find(uint64_t id) const { return journal_.find(id); }
  // Whether the move's thread is still working on it.
  bool running(uint64_t id) const;
  // Rolls back a move that has not flipped (or finishes one that has); error when unknown.
  std::optional<MoveFailure> cancel(uint64_t id);
  // Drops <schema>__moved_<id> on the source of a finished move. Blocking.
  std::optional<MoveFailure> drop_moved_data(uint64_t id);
  MoveMetrics metrics() const;

  static constexpr config::Duration kDefaultPauseBudget{2000};

 private:
  struct Job;
  std::variant<std::unique_ptr<MoveRun>, MoveFailure> prepare(const MoveRecord& record,
                                                              const config::ConfigPtr& config);
  std::shared_ptr<Job> add_job(std::unique_ptr<MoveRun> run);
  void finished(Job& job, const Step& result);
  bool busy(const std::string& tenant) const;

  MoveHooks hooks_;
  MoveJournal journal_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Job>> jobs_;
  std::vector<std::thread> threads_;
  MoveMetrics metrics_;
};

}  // namespace shardgate::moves
