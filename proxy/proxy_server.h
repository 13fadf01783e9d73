// The process: one io_context per worker thread (one per core), each with its own
// SO_REUSEPORT acceptor so the kernel spreads connections; sessions live and die on the
// worker that accepted them. The main thread handles signals (SIGTERM/SIGINT stop, SIGHUP
// reload).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "pool/asio.h"
#include "proxy/admin_command_counts.h"
#include "proxy/cancel_registry.h"
#include "proxy/client_session.h"
#include "proxy/metrics_endpoint.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"

namespace shardgate::proxy {

class Proxy {
 public:
  Proxy(RuntimePtr runtime, std::string config_path);
  ~Proxy();

  // Binds the listeners; returns false (after logging why) when it cannot.
  bool bind();
  // Serves until SIGTERM/SIGINT, then drains; returns the process exit code.
  int run();

  uint16_t bound_port() const { return bound_port_; }

 private:
  awaitable<void> accept_loop(Worker& worker);
  void spawn(Worker& worker, std::shared_ptr<ClientSession> session, bool resume);
  void begin_shutdown();
  void reload();

  std::string config_path_;
  RuntimeHolder runtime_;
  CancelRegistry cancels_;
  TenantRegistry tenants_;
  PauseControl pauses_;
  AdminCommandCounts admin_counts_;
  SessionServices services_{runtime_, cancels_, tenants_, pauses_, 1};
  std::vector<std::unique_ptr<Worker>> workers_;
  // GET /metrics; stopped before the workers (a scrape asks them for their pools).
  std::unique_ptr<MetricsEndpoint> metrics_;
  asio::io_context main_io_{1};
  std::atomic<int> active_sessions_{0};
  std::atomic<uint64_t> next_session_id_{1};
  std::atomic<bool> stopping_{false};
  uint16_t bound_port_ = 0;
};

}  // namespace shardgate::proxy
