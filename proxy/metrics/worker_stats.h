// Reading the state that workers own (pools, sessions, server connections) from another
// thread: each worker is asked on its own thread and answers with plain rows. Used by the
// admin socket (SHOW POOLS/CLIENTS/SERVERS) and /metrics.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pool/server_pool.h"
#include "proxy/session/client_session.h"

namespace shardgate::proxy {

struct Worker;

struct PoolRow {
  int worker = 0;
  std::string name;  // "s1/pro" or "s1/enterprise/acme"
  std::string shard;
  int size = 0;
  pool::PoolStats stats;
};

struct ServerRow {
  int worker = 0;
  std::string pool;
  std::string shard;
  int pid = 0;
  std::string state;   // active | idle
  std::string tenant;  // the tenant it serves (active) or last served (idle)
  double age_seconds = 0;
};

struct WorkerSnapshot {
  std::vector<PoolRow> pools;
  std::vector<ClientSession::Info> clients;
  std::vector<ServerRow> servers;
  int workers_answered = 0;
};

// Asks every worker for its rows; a worker that does not answer within `timeout` (stopped or
// stuck) is left out. Must not be called from a worker thread.
WorkerSnapshot collect_worker_snapshot(const std::vector<std::unique_ptr<Worker>>& workers,
                                       std::chrono::milliseconds timeout, bool with_sessions);

}  // namespace shardgate::proxy
