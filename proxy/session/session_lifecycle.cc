// Ending a session: SIGTERM drains, the shutdown timeout closes; the line logged at the end.
#include <cstdio>

#include "proxy/session/client_session.h"

namespace shardgate::proxy {

void ClientSession::request_shutdown() {
  shutdown_requested_ = true;
  error_code ignored;
  if (!shutdown_signal_) {
    client_.cancel(ignored);  // between transactions: wake the read and say goodbye
  } else if (exchange_.idle()) {
    shutdown_signal_->cancel();  // inside a checkout but idle: end it now
  }
}

void ClientSession::force_close() {
  error_code ignored;
  client_.cancel(ignored);
  client_.close(ignored);
  if (server_) server_->close();
}

void ClientSession::log_closed() const {
  auto level = welcomed_ ? spdlog::level::info : spdlog::level::debug;
  if (!log_enabled(level)) return;  // every connection ends here: skip the formatting
  char seconds[32];
  std::snprintf(
      seconds, sizeof seconds, "%.3f",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - connected_at_).count());
  log_event(level, welcomed_ ? "client disconnected" : "connection closed before startup completed",
            &log_, {{"duration_s", seconds}});
}

ClientSession::Info ClientSession::describe() const {
  Info info;
  info.id = log_.session;
  info.client = log_.client;
  info.user = log_.user;
  if (route_) {
    info.tenant = route_->tenant;
    info.shard = route_->placement.shard;
    info.pool = pool_key_;
  }
  info.transaction_status = server_ ? exchange_.status() : 'I';
  info.state = waiting_ ? "waiting" : (in_flight_ ? "active" : "idle");
  if (server_) {
    info.server_pid = server_->cancel_target().pid;
    info.server_since = server_->created_at;
  }
  return info;
}

}  // namespace shardgate::proxy
