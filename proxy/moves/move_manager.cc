#include "proxy/moves/move_manager.h"

#include "routing/tenant_context.h"

namespace shardgate::moves {

struct MoveManager::Job {
  std::unique_ptr<MoveRun> run;
  std::atomic<bool> cancel{false};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<std::string> notices;
  MoveRecord snapshot;
  std::optional<MoveFailure> failure;
};

MoveManager::MoveManager(std::string journal_path, MoveHooks hooks)
    : hooks_(std::move(hooks)), journal_(std::move(journal_path), hooks_.write_file) {}

MoveManager::~MoveManager() {
  {
    std::lock_guard lock(mu_);
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

absl::Status MoveManager::load() { return journal_.load(); }

std::variant<std::unique_ptr<MoveRun>, MoveFailure> MoveManager::prepare(
    const MoveRecord& record, const config::ConfigPtr& config) {
  auto run = std::make_unique<MoveRun>();
  run->record = record;
  run->config = config;
  run->source = config->find_shard(record.from);
  run->target = config->find_shard(record.to);
  if (!run->source || !run->target)
    return MoveFailure{
        "3D000", "shard \"" + (run->source ? record.to : record.from) + "\" is not configured",
        "SHOW SHARDS lists the shards."};
  auto placement = hooks_.placement(record.tenant);
  if (placement) run->tier = config->find_tier(placement->tier);
  run->hooks = &hooks_;
  run->journal = &journal_;
  return run;
}

std::shared_ptr<MoveManager::Job> MoveManager::add_job(std::unique_ptr<MoveRun> run) {
  auto job = std::make_shared<Job>();
  job->run = std::move(run);
  job->run->cancel = &job->cancel;
  job->snapshot = job->run->record;
  Job* raw = job.get();
  job->run->notice = [raw](const std::string& text) {
    std::lock_guard lock(raw->mu);
    raw->notices.push_back(text);
    raw->snapshot = raw->run->record;
  };
  jobs_[job->run->record.id] = job;
  return job;
}

void MoveManager::finished(Job& job, const Step& result) {
  // A finished move keeps its record (SHOW MOVES), not its connections to the shards.
  job.run->src.reset();
  job.run->dst.reset();
  std::lock_guard lock(mu_);
  {
    std::lock_guard jl(job.mu);
    job.snapshot = job.run->record;
    job.failure = result;
  }
  const MoveRecord& r = job.run->record;
  metrics_.lag_bytes.erase(r.tenant);
  metrics_.results[std::string(phase_name(r.phase))]++;
  if (r.phase == MovePhase::kDone) {
    metrics_.pause_seconds.push_back(r.pause_ms / 1000);
    metrics_.copied_bytes += static_cast<uint64_t>(std::max<int64_t>(0, r.bytes));
  }
  job.done = true;
}

bool MoveManager::busy(const std::string& tenant) const {
  for (const auto& [id, job] : jobs_)
    if (!job->done && job->run->record.tenant == tenant) return true;
  for (const auto& r : journal_.records())
    if (r.tenant == tenant && !phase_final(r.phase)) return true;
  return false;
}

std::variant<uint64_t, MoveFailure> MoveManager::start(const MoveRequest& request) {
  auto config = hooks_.config();
  auto placement = hooks_.placement(request.tenant);
  if (!placement)
    return MoveFailure{"3D000", "tenant \"" + request.tenant + "\" is not in the shard directory",
                       "SHOW TENANTS lists the tenants."};
  if (!config->find_shard(request.to))
    return MoveFailure{"3D000", "shard \"" + request.to + "\" is not configured",
                       "Add it under shards: and RELOAD, then MOVE again."};
  if (placement->shard == request.to)
    return MoveFailure{
        "55000",
        "tenant \"" + request.tenant + "\" is already on shard \"" + request.to + "\"",
        {}};
  if (placement->isolation != config::Isolation::kSchema)
    return MoveFailure{
        "0A000",
        "tenant \"" + request.tenant + "\" has isolation " +
            (placement->isolation == config::Isolation::kShared ? "shared" : "database") +
            ": only schema-per-tenant placements can be moved",
        "Rows in tables shared with other tenants cannot be moved by schema; give the tenant a "
        "tier with isolation: schema first (docs/moves.md, Limits)."};
  const config::TierConfig* tier = config->find_tier(placement->tier);
  std::string role;
  if (tier) {
    auto r = hooks_.tenant_role(*tier, request.tenant);
    if (!r.ok()) return MoveFailure{"55000", std::string(r.status().message()), {}};
    role = r->name;
  }
  std::lock_guard lock(mu_);
  if (busy(request.tenant))
    return MoveFailure{"55006", "a move of tenant \"" + request.tenant + "\" is already running",
                       "SHOW MOVES shows it; CANCEL MOVE id stops it."};
  auto id = journal_.next_id();
  if (!id.ok())
    return MoveFailure{
        "58030", "could not write the move journal: " + std::string(id.status().message()), {}};
  MoveRecord record;
  record.id = *id;
  record.tenant = request.tenant;
  record.from = placement->shard;
  record.to = request.to;
  record.schema = placement->schema;
  record.role = role;
  record.mode = request.copy_mode ? "copy" : "online";
  record.started = utc_now();
  if (auto status = journal_.put(record); !status.ok())
    return MoveFailure{
        "58030", "could not write the move journal: " + std::string(status.message()), {}};
  auto prepared = prepare(record, config);
  if (auto* f = std::get_if<MoveFailure>(&prepared)) return *f;
  auto run = std::move(std::get<std::unique_ptr<MoveRun>>(prepared));
  run->pause_budget = request.pause_budget.value_or(kDefaultPauseBudget);
  auto job = add_job(std::move(run));
  threads_.emplace_back([this, job] {
    Step result = run_move(*job->run);
    finished(*job, result);
  });
  return record.id;
}

MoveProgress MoveManager::progress(uint64_t id) {
  MoveProgress out;
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      out.finished = true;
      return out;
    }
    job = it->second;
    if (!job->done) metrics_.lag_bytes[job->snapshot.tenant] = job->snapshot.lag_bytes;
  }
  out.finished = job->done.load();
  std::lock_guard jl(job->mu);
  out.notices.swap(job->notices);
  out.record = job->snapshot;
  out.failure = job->failure;
  return out;
}

std::vector<MoveRecord> MoveManager::list() const {
  std::vector<MoveRecord> out = journal_.records();
  std::lock_guard lock(mu_);
  for (auto& r : out) {
    auto it = jobs_.find(r.id);
    if (it == jobs_.end() || it->second->done) continue;
    std::lock_guard jl(it->second->mu);
    r.lag_bytes = it->second->snapshot.lag_bytes;
  }
  return out;
}

std::optional<MoveFailure> MoveManager::cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it != jobs_.end() && !it->second->done) {
    it->second->cancel = true;
    return std::nullopt;
  }
  auto record = journal_.find(id);
  if (!record)
    return MoveFailure{"42704", "there is no move " + std::to_string(id), "SHOW MOVES lists them."};
  if (phase_final(record->phase))
    return MoveFailure{"55000",
                       "move " + std::to_string(id) + " has already ended (" +
                           std::string(phase_name(record->phase)) + ")",
                       {}};
  // Left unfinished by a failure or a crash: settle it now.
  auto prepared = prepare(*record, hooks_.config());
  if (auto* f = std::get_if<MoveFailure>(&prepared)) return *f;
  auto job = add_job(std::move(std::get<std::unique_ptr<MoveRun>>(prepared)));
  threads_.emplace_back([this, job] { finished(*job, settle_move(*job->run)); });
  return std::nullopt;
}

void MoveManager::recover() {
  std::vector<std::shared_ptr<Job>> pending;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : journal_.records()) {
      if (phase_final(r.phase)) continue;
      auto prepared = prepare(r, hooks_.config());
      if (std::holds_alternative<MoveFailure>(prepared)) continue;
      pending.push_back(add_job(std::move(std::get<std::unique_ptr<MoveRun>>(prepared))));
    }
    if (pending.empty()) return;
    threads_.emplace_back([this, pending] {
      for (const auto& job : pending) finished(*job, settle_move(*job->run));
    });
  }
}

std::optional<MoveFailure> MoveManager::drop_moved_data(uint64_t id) {
  auto record = journal_.find(id);
  if (!record)
    return MoveFailure{"42704", "there is no move " + std::to_string(id), "SHOW MOVES lists them."};
  if (record->phase != MovePhase::kDone)
    return MoveFailure{"55000",
                       "move " + std::to_string(id) + " is " +
                           std::string(phase_name(record->phase)) +
                           ": only a done move has moved data to drop",
                       {}};
  if (record->data_dropped) return std::nullopt;
  auto config = hooks_.config();
  const config::ShardConfig* source = config->find_shard(record->from);
  if (!source) return MoveFailure{"3D000", "shard \"" + record->from + "\" is not configured", {}};
  auto link = PgLink::open(*source, PgLink::Credential::kControl, config->connect_timeout);
  if (!link.ok()) return MoveFailure{"08006", std::string(link.status().message()), {}};
  auto status = link->exec("DROP SCHEMA IF EXISTS " + routing::quote_ident(record->moved_schema()) +
                           " CASCADE");
  if (!status.ok()) return MoveFailure{"55000", std::string(status.message()), {}};
  MoveRecord updated = *record;
  updated.data_dropped = true;
  (void)journal_.put(updated);
  return std::nullopt;
}

bool MoveManager::running(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  return it != jobs_.end() && !it->second->done;
}

MoveMetrics MoveManager::metrics() const {
  std::lock_guard lock(mu_);
  return metrics_;
}

}  // namespace shardgate::moves
