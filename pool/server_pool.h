// A pool of server connections to one shard for one tier (shared) or one tenant
// (dedicated). A pool lives on one worker thread and is only touched from it: no locks.
// Waiting clients are served by FairQueue; an idle connection that already carries the
// asking tenant's context is preferred (affinity), so busy tenants cause no context switches.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "pool/asio.h"
#include "pool/concurrency_target.h"
#include "pool/fair_queue.h"
#include "pool/latency_histogram.h"
#include "pool/server_connection.h"

namespace shardgate::pool {

using Millis = std::chrono::milliseconds;

struct PoolSettings {
  std::string name;  // "s1/pro" or "s1/enterprise/acme"
  std::string shard;
  int size = 20;
  int min_size = 0;
  std::optional<int> per_tenant_cap;  // max_server_connections_per_tenant
  int pipeline_depth = 1;             // requests per connection at once (pipeline.h)
  Millis connect_timeout{5000};
  Millis idle_timeout{600000};  // server_idle_timeout
  Millis lifetime{3600000};     // server_lifetime
  // A connection returned less than this long ago is handed out without asking the kernel
  // whether the server closed it (a syscall per checkout on the hot path). Only for pools whose
  // sessions retry a request that meets a dead connection (transaction mode); 0 = always ask.
  Millis trust_recent{0};
  bool operator==(const PoolSettings&) const = default;
};

struct PoolStats {
  int active = 0;
  int idle = 0;
  int connecting = 0;
  int waiting = 0;
  uint64_t acquired = 0;
  uint64_t timeouts = 0;
  uint64_t connect_failures = 0;
  uint64_t pipelined = 0;      // requests that queued behind another on a busy connection
  uint64_t stale_dropped = 0;  // idle connections the server closed, dropped before reuse
  // Busy connections from which requests queue on busy ones (concurrency_target.h).
  int concurrency_target = 0;
  // How long acquire() took for each connection it handed out (queueing and connecting).
  LatencyHistogram::Snapshot wait;
  // The last connect attempt: 1 reached the shard (even if it then refused the login), -1 could
  // not reach it, 0 none yet.
  int last_connect = 0;
  std::chrono::steady_clock::time_point last_connect_at{};
};

struct Lease {
  std::unique_ptr<ServerConnection> conn;  // null on error
  ServerResult error;
  Millis waited{0};
  // The connection was idle in the pool (not opened for this lease): a request that finds it
  // closed by the server before any answer may run again on another one.
  bool reused = false;
};

class ServerPool {
 public:
  ServerPool(asio::any_io_executor executor, PoolSettings settings, ConnectTarget target);
  ~ServerPool();

  // A connection for `tenant`, or an error: 53300 after `timeout`, 08006 when the shard
  // cannot be reached (connect attempts back off while it stays down).
  awaitable<Lease> acquire(const std::string& tenant, int weight, Millis timeout);
  // acquire()'s first step alone: an idle connection when one can be had without waiting,
  // else nullopt (then acquire() queues or opens one). Costs no coroutine frame.
  std::optional<Lease> acquire_at_once(const std::string& tenant);
  // Returns a clean, idle connection (ReadyForQuery 'I') for reuse.
  void release(std::unique_ptr<ServerConnection> conn, const std::string& tenant);
  // Closes a connection that must not be reused.
  void discard(std::unique_ptr<ServerConnection> conn, const std::string& tenant);
  // Both pass the connection to the first client queued on it instead, if any (pipeline.h);
  // discard closes its socket first, so every queued client then reads an error.

  // Pipelining (pipeline_depth > 1). The owner of `conn` runs a request that others of its
  // tenant may queue behind: list it, or stop listing it (a slow statement, a hand-over).
  void open_pipeline(ServerConnection& conn);
  void close_pipeline(ServerConnection& conn);
  // A listed connection carrying `tenant`'s context with room for one more request, only
  // while the pool has no idle connection and cannot open another (or, for a `quick` tenant,
  // decide::quick_statements, while its busy connections reach the concurrency target), and
  // no other tenant waits for one (they are served fairly first). Null otherwise. The caller
  // queues at once.
  ServerConnection* pipeline_for(std::string_view tenant, bool quick);
  // Counts a request that queued on a pipeline; a quick tenant's presses the concurrency
  // target (only quick tenants queue before the pool is full, so only they can use a lower one).
  void count_pipelined(bool quick) {
    ++counters_.pipelined;
    if (quick) concurrency_.queued();
  }

  // Opens connections in the background until the pool holds `n` (at most its size), so many
  // clients arriving at once (a moved tenant's, resumed on its new shard) find them open.
  void warm(int n);

  // New settings or target after a reload; connections to an old target are retired.
  void update(PoolSettings settings, ConnectTarget target);
  // Closes idle connections (shutdown) and stops maintenance.
  void close_idle();
  // Closes every idle connection opened before `since`: one of them was found closed by the
  // server (a restart or failover ends them all), so the next lease opens a fresh one.
  void drop_idle_opened_before(std::chrono::steady_clock::time_point since);

  PoolStats stats() const;
  // Idle connections, most recently used last (SHOW SERVERS).
  const std::vector<std::unique_ptr<ServerConnection>>& idle_connections() const { return idle_; }
  const PoolSettings& settings() const { return settings_; }
  const ConnectTarget& target() const { return target_; }
  // ParameterStatus values of the first connection: what a new client is told at startup.
  const std::vector<std::pair<std::string, std::string>>& welcome_parameters() const {
    return welcome_;
  }
  // The welcome's ParameterStatus messages that are the same for every client of the pool,
  // encoded once: the session layer (which knows which parameters follow each client) fills
  // it on first use; it is emptied whenever the welcome parameters change.
  std::vector<uint8_t>& shared_welcome_bytes() { return welcome_bytes_; }

 private:
  struct Waiter {
    std::string tenant;
    int weight = 1;
    asio::steady_timer* timer = nullptr;
    std::unique_ptr<ServerConnection> granted;
    bool slot = false;    // allowed to open a new connection
    bool reused = false;  // `granted` came from the idle list
  };

  // Whether `tenant` may take another connection now (decide::may_take).
  bool under_cap(std::string_view tenant) const;
  // The two tenants that asked last (latest_ and, before it, another one), so "has another
  // tenant used the pool lately" costs no walk over every tenant.
  struct SeenTenant {
    std::string tenant;
    std::chrono::steady_clock::time_point at{};
  };
  static constexpr std::chrono::seconds kOthersWindow{1};
  void note_tenant(std::string_view tenant, std::chrono::steady_clock::time_point now);
  bool other_tenant_recent(std::string_view tenant) const;
  std::unique_ptr<ServerConnection> take_idle(std::string_view tenant);
  // A connection idle at a maintenance tick is watched from then on: a close or any message
  // from the server (a FATAL before it closes) drops it at once instead of at its next
  // checkout. Before that tick, the checkout's check (usable_now) and the tick itself do.
  void watch_idle(ServerConnection& conn);
  bool usable_now(ServerConnection& conn);
  void drop_watched(ServerConnection* conn, uint64_t ticket);
  void dispatch();
  awaitable<Lease> open(const std::string& tenant);
  awaitable<void> maintain();
  awaitable<void> open_spare();  // one connection into the idle list (its slot is taken)
  void forget(const std::string& tenant);
  // Hands `conn` to the first client queued on it; false when nobody is.
  bool pass_down(std::unique_ptr<ServerConnection>& conn);

  asio::any_io_executor executor_;
  PoolSettings settings_;
  ConnectTarget target_;
  uint64_t generation_ = 0;  // bumped when the target changes
  uint64_t idle_tickets_ = 0;
  std::vector<std::unique_ptr<ServerConnection>> idle_;  // back = most recently used
  std::vector<ServerConnection*> pipelines_;             // leased, joinable (open)
  FairQueue<Waiter> waiters_;
  absl::flat_hash_map<std::string, int> tenant_active_;
  int total_ = 0;  // idle + leased + connecting
  // Leased connections: running a client's request (or queued requests).
  int busy() const { return total_ - connecting_ - static_cast<int>(idle_.size()); }
  int connecting_ = 0;
  PoolStats counters_;
  ConcurrencyTarget concurrency_;
  LatencyHistogram wait_;
  std::vector<std::pair<std::string, std::string>> welcome_;
  std::vector<uint8_t> welcome_bytes_;
  std::chrono::steady_clock::time_point down_until_{};
  Millis backoff_{0};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<asio::steady_timer> maintenance_;
  SeenTenant latest_;
  SeenTenant previous_;
};

}  // namespace shardgate::pool
