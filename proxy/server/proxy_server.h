// The process: one io_context per worker thread (one per core), each with its own
// SO_REUSEPORT acceptor so the kernel spreads connections; sessions live and die on the
// worker that accepted them. The main thread handles signals (SIGTERM/SIGINT stop, SIGHUP
// reload).
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "pool/asio.h"
#include "proxy/admin/admin_server.h"
#include "proxy/metrics/admin_command_counts.h"
#include "proxy/metrics/endpoint.h"
#include "proxy/moves/move_manager.h"
#include "proxy/runtime/cancel_registry.h"
#include "proxy/runtime/runtime.h"
#include "proxy/session/client_session.h"
#include "proxy/session/worker.h"

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
  bool bind_clients(const config::Config& config);
  bool listen_clients();
  // A reload's keepalive settings onto the listening sockets, for the clients accepted after
  // it (set_client_options in proxy_server.cc).
  void reset_client_socket_options(const config::Config& config);
  awaitable<void> accept_loop(Worker& worker);
  void spawn(Worker& worker, std::shared_ptr<ClientSession> session, bool resume);
  void begin_shutdown();
  // Loads config + directory and swaps them in; the reason when refused. Runs on the control
  // thread (SIGHUP posts it there) so it never races an admin change.
  std::optional<std::string> reload();
  // Works out how many clients the open-file limit leaves room for (max_client_conn: auto)
  // and logs it at start, and after a reload that changes it.
  void update_client_capacity(const Runtime& rt, bool at_start);

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
  // The control plane: blocking admin work and every config/directory change, one at a time.
  asio::thread_pool control_{1};
  AdminContext admin_ctx_{runtime_,
                          tenants_,
                          pauses_,
                          admin_counts_,
                          workers_,
                          services_.context_switches,
                          config_path_,
                          {},
                          {},
                          control_.get_executor(),
                          {}};
  std::unique_ptr<AdminServer> admin_;
  // Tenant moves; their threads use the runtime, pauses and the control thread above.
  std::unique_ptr<moves::MoveManager> moves_;
  // Stops serving: `wait` lets transactions finish (SIGTERM, SHUTDOWN WAIT). Main thread only.
  std::function<void(bool wait)> stop_;
  std::atomic<int> active_sessions_{0};
  std::atomic<uint64_t> next_session_id_{1};
  std::atomic<bool> stopping_{false};
  uint16_t bound_port_ = 0;
  std::optional<int> logged_max_client_conn_;  // control thread only, after bind()
};

}  // namespace shardgate::proxy
