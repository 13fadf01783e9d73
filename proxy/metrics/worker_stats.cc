#include "proxy/metrics/worker_stats.h"

#include <future>

#include "proxy/session/worker.h"

namespace shardgate::proxy {

namespace {

WorkerSnapshot snapshot_of(const Worker& worker, bool with_sessions) {
  WorkerSnapshot out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [name, pool] : worker.pools) {
    out.pools.push_back(
        {worker.index, name, pool->settings().shard, pool->settings().size, pool->stats()});
    if (!with_sessions) continue;
    for (const auto& conn : pool->idle_connections()) {
      out.servers.push_back({worker.index, name, pool->settings().shard, conn->cancel_target().pid,
                             "idle", conn->last_tenant,
                             std::chrono::duration<double>(now - conn->created_at).count()});
    }
  }
  if (with_sessions) {
    for (const ClientSession* session : worker.sessions) {
      auto info = session->describe();
      if (info.server_pid != 0)
        out.servers.push_back({worker.index, info.pool, info.shard, info.server_pid, "active",
                               info.tenant,
                               std::chrono::duration<double>(now - info.server_since).count()});
      out.clients.push_back(std::move(info));
    }
  }
  out.workers_answered = 1;
  return out;
}

}  // namespace

WorkerSnapshot collect_worker_snapshot(const std::vector<std::unique_ptr<Worker>>& workers,
                                       std::chrono::milliseconds timeout, bool with_sessions) {
  std::vector<std::future<WorkerSnapshot>> answers;
  for (const auto& worker : workers) {
    auto promise = std::make_shared<std::promise<WorkerSnapshot>>();
    answers.push_back(promise->get_future());
    asio::post(worker->io, [promise, &w = *worker, with_sessions] {
      promise->set_value(snapshot_of(w, with_sessions));
    });
  }
  WorkerSnapshot all;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& answer : answers) {
    if (answer.wait_until(deadline) != std::future_status::ready) continue;
    auto part = answer.get();
    all.workers_answered += part.workers_answered;
    for (auto& p : part.pools) all.pools.push_back(std::move(p));
    for (auto& c : part.clients) all.clients.push_back(std::move(c));
    for (auto& s : part.servers) all.servers.push_back(std::move(s));
  }
  return all;
}

}  // namespace shardgate::proxy
