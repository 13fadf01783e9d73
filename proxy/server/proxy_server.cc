#include "proxy/server/proxy_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/signal_set.hpp>
#include <chrono>

#include "proxy/runtime/accept_backoff.h"
#include "proxy/runtime/log.h"
#include "proxy/server/fd_budget.h"
#include "proxy/session/idle_timeouts.h"
#include "proxy/tenants/pool_spec.h"

namespace shardgate::proxy {

namespace {

// Options every client socket gets, set on the listening socket: Linux copies them into
// each socket it accepts (and arms the keepalive timer), which saves five system calls per
// new connection.
void set_client_options(tcp::acceptor& acceptor, const pool::KeepAlive& keepalive) {
  int fd = acceptor.native_handle();
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  pool::apply_keepalive(fd, keepalive);
}

}  // namespace

Proxy::Proxy(RuntimePtr runtime, std::string config_path)
    : config_path_(std::move(config_path)), runtime_(std::move(runtime)) {
  admin_ctx_.config_path = config_path_;
  admin_ctx_.reload = [this] { return reload(); };
  admin_ctx_.shutdown = [this](bool wait) {
    asio::post(main_io_, [this, wait] {
      if (stop_) stop_(wait);
    });
  };
}

Proxy::~Proxy() {
  metrics_.reset();
  if (admin_) admin_->stop();
  moves_.reset();  // rolls running moves back; their flip needs the control thread
  control_.join();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

// The client port listens last: whoever sees it accept (a supervisor, a test) may use the
// admin socket and the metrics endpoint at once. Its acceptors are bound first so that the
// workers exist (metrics reads them) and port 0 resolves to the kernel's pick.
bool Proxy::bind() {
  auto rt = runtime_.get();
  if (!bind_clients(*rt->config)) return false;
  admin_ = std::make_unique<AdminServer>(admin_ctx_);
  if (!admin_->bind(rt->config->admin)) return false;
  moves_ = make_move_manager(admin_ctx_);
  if (moves_) {
    if (auto loaded = moves_->load(); !loaded.ok()) {
      log_event(spdlog::level::err, "cannot read the move journal", nullptr,
                {{"error", std::string(loaded.message())}});
      return false;
    }
    admin_ctx_.moves = moves_.get();
  }
  if (const auto& metrics = rt->config->metrics.listen) {
    metrics_ = MetricsEndpoint::start(
        *metrics, {runtime_, tenants_, workers_, admin_counts_, active_sessions_, moves_.get()});
    if (!metrics_) return false;
  }
  // Logged before the port accepts anyone: whoever sees the port open finds the capacity (and
  // any warning about max_client_conn) in the log already. listen() opens no descriptor.
  update_client_capacity(*rt, true);
  return listen_clients();
}

// One acceptor per worker on the same address (SO_REUSEPORT: the kernel spreads connections),
// bound but not yet listening.
bool Proxy::bind_clients(const config::Config& config) {
  const auto& listen = config.listen;
  int count = config.workers > 0
                  ? config.workers
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  error_code ec;
  auto address = asio::ip::make_address(listen.host == "*" ? "0.0.0.0" : listen.host, ec);
  if (ec) {
    tcp::resolver resolver(main_io_);
    auto results = resolver.resolve(listen.host, std::to_string(listen.port), ec);
    if (ec || results.empty()) {
      log_event(spdlog::level::err, "cannot resolve listen address", nullptr,
                {{"host", listen.host}, {"error", ec.message()}});
      return false;
    }
    address = results.begin()->endpoint().address();
  }
  uint16_t port = listen.port;
  for (int i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->index = i;
    auto acceptor = std::make_unique<tcp::acceptor>(worker->io);
    tcp::endpoint ep(address, port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = error_code(errno, boost::system::system_category());
    }
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) set_client_options(*acceptor, keepalive_for(config));
    if (ec) {
      log_event(
          spdlog::level::err, "cannot listen", nullptr,
          {{"address", address.to_string() + ":" + std::to_string(port)}, {"error", ec.message()}});
      return false;
    }
    port = acceptor->local_endpoint().port();  // port 0 -> the kernel's pick, shared by all
    worker->acceptor = std::move(acceptor);
    workers_.push_back(std::move(worker));
  }
  bound_port_ = port;
  services_.workers = count;
  return true;
}

void Proxy::reset_client_socket_options(const config::Config& config) {
  auto keepalive = keepalive_for(config);
  for (auto& w : workers_) {
    // On the acceptor's own worker: shutdown closes it there.
    asio::post(w->io, [&worker = *w, keepalive] {
      if (worker.acceptor->is_open()) set_client_options(*worker.acceptor, keepalive);
    });
  }
}

bool Proxy::listen_clients() {
  error_code ec;
  for (auto& worker : workers_) {
    worker->acceptor->listen(1024, ec);
    if (ec) {
      log_event(spdlog::level::err, "cannot listen", nullptr,
                {{"port", std::to_string(bound_port_)}, {"error", ec.message()}});
      return false;
    }
  }
  auto address = workers_.front()->acceptor->local_endpoint().address();
  log_event(spdlog::level::info, "listening", nullptr,
            {{"address", address.to_string() + ":" + std::to_string(bound_port_)},
             {"workers", std::to_string(workers_.size())}});
  return true;
}

awaitable<void> Proxy::accept_loop(Worker& worker) {
  co_await accept_each(
      *worker.acceptor, "clients", [this, &worker](tcp::socket socket, const tcp::endpoint& peer) {
        // TCP_NODELAY and keepalive come from the listening socket (set_client_options).
        ++active_sessions_;
        auto session = std::make_shared<ClientSession>(std::move(socket), peer, services_, worker,
                                                       next_session_id_.fetch_add(1));
        spawn(worker, std::move(session), false);
      });
}

void Proxy::spawn(Worker& worker, std::shared_ptr<ClientSession> session, bool resume) {
  worker.sessions.insert(session.get());
  if (stopping_) session->request_shutdown();
  auto body = resume ? session->serve() : session->run();
  asio::co_spawn(worker.io, std::move(body), [this, &worker, session](std::exception_ptr e) {
    if (!e && session->parked()) {
      // An idle client: no coroutine and no read buffer until it sends something. It stays
      // in worker.sessions, so shutdown and the idle sweep still reach it (by cancelling
      // the wait).
      session->when_readable([this, &worker, session] { spawn(worker, session, true); });
      return;
    }
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_event(spdlog::level::err, "session ended by an exception", &session->log_context(),
                  {{"error", ex.what()}});
      } catch (...) {
        log_event(spdlog::level::err, "session ended by an unknown exception",
                  &session->log_context());
      }
    }
    worker.sessions.erase(session.get());
    int target = e ? -1 : session->take_handoff();
    if (target < 0) {
      session->log_closed();
      --active_sessions_;
      return;
    }
    // The session moves to the worker that owns its pool and continues there.
    Worker& to = *workers_[target];
    asio::post(to.io, [this, &to, session]() {
      session->attach_socket(to);
      spawn(to, session, true);
    });
  });
}

void Proxy::begin_shutdown() {
  if (stopping_.exchange(true)) return;
  log_event(spdlog::level::info, "shutting down: no new connections, waiting for transactions",
            nullptr, {{"sessions", std::to_string(active_sessions_.load())}});
  for (auto& w : workers_) {
    asio::post(w->io, [&worker = *w] {
      error_code ignored;
      worker.acceptor->close(ignored);
      for (auto* s : worker.sessions) s->request_shutdown();
    });
  }
}

std::optional<std::string> Proxy::reload() {
  auto next = load_runtime(config_path_);
  if (!next.ok()) {
    std::string why(next.status().message());
    log_event(spdlog::level::err, "reload refused: configuration unchanged", nullptr,
              {{"error", why}});
    return why;
  }
  auto before = runtime_.get()->config->metrics.listen;
  const auto& after = (*next)->config->metrics.listen;
  if (before.has_value() != after.has_value() ||
      (before && (before->host != after->host || before->port != after->port)))
    log_event(spdlog::level::warn, "metrics.listen changed: it applies after a restart");
  runtime_.set(*next);
  update_client_capacity(**next, false);
  tenants_.reconfigure(**next);  // new rate limits apply to connected clients at once
  reset_client_socket_options(*(*next)->config);
  log_event(spdlog::level::info, "configuration reloaded", nullptr,
            {{"tenants", std::to_string((*next)->directory->size())}});
  return std::nullopt;
}

void Proxy::update_client_capacity(const Runtime& rt, bool at_start) {
  auto budget = fd_budget(*rt.config, *rt.directory, services_.workers, open_file_limit());
  int before = services_.client_capacity.exchange(budget.clients);
  const auto& max = rt.config->max_client_conn;
  if (!at_start && before == budget.clients && max == logged_max_client_conn_) return;
  logged_max_client_conn_ = max;
  std::string limit = max ? std::to_string(*max) : "auto";
  log_event(spdlog::level::info, "client capacity", nullptr,
            {{"clients", std::to_string(budget.clients)},
             {"open_files", std::to_string(budget.open_files)},
             {"server_connections", std::to_string(budget.server_connections)},
             {"reserved_for_process", std::to_string(budget.process)},
             {"max_client_conn", limit}});
  if (max && *max > budget.clients)
    log_event(
        spdlog::level::warn,
        "max_client_conn is above what the open-file limit leaves for clients: clients "
        "beyond that wait in the listen backlog",
        nullptr,
        {{"max_client_conn", std::to_string(*max)}, {"clients", std::to_string(budget.clients)}});
}

int Proxy::run() {
  for (auto& w : workers_) {
    asio::co_spawn(w->io, accept_loop(*w), asio::detached);
    asio::co_spawn(w->io, sweep_idle_clients(*w, services_.runtime), asio::detached);
    w->thread = std::thread([&io = w->io] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  asio::signal_set stop_signals(main_io_, SIGTERM, SIGINT);
  asio::signal_set hup(main_io_, SIGHUP);
  asio::steady_timer drain(main_io_);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](error_code ec, int) {
      if (ec) return;
      asio::post(control_, [this] { reload(); });
      wait_hup();
    });
  };
  wait_hup();
  auto deadline = std::chrono::steady_clock::time_point::max();
  bool forced = false;
  std::function<void()> poll = [&] {
    if (active_sessions_.load() == 0) {
      hup.cancel();
      stop_signals.cancel();
      return;
    }
    if (!forced && std::chrono::steady_clock::now() >= deadline) {
      forced = true;
      log_event(spdlog::level::warn, "shutdown timeout passed: closing remaining connections",
                nullptr, {{"sessions", std::to_string(active_sessions_.load())}});
      for (auto& w : workers_)
        asio::post(w->io, [&worker = *w] {
          for (auto* s : worker.sessions) s->force_close();
        });
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](error_code ec) {
      if (!ec) poll();
    });
  };
  bool stopping = false;
  stop_ = [&](bool wait) {
    auto grace = wait ? runtime_.get()->config->shutdown_timeout : config::Duration{0};
    auto next = std::chrono::steady_clock::now() + grace;
    if (next < deadline) deadline = next;  // SHUTDOWN after SIGTERM shortens the wait
    begin_shutdown();
    if (!stopping) {
      stopping = true;
      poll();
    }
  };
  stop_signals.async_wait([&](error_code ec, int) {
    if (ec) return;
    stop_(true);
  });
  admin_->start();
  if (moves_) moves_->recover();  // settles what a crash left unfinished
  main_io_.run();
  stop_ = nullptr;
  admin_->stop();
  metrics_.reset();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  log_event(spdlog::level::info, "stopped", nullptr,
            {{"context_switches", std::to_string(services_.context_switches.load())}});
  return 0;
}

}  // namespace shardgate::proxy
