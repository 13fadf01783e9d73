// A request sent on a server connection that the server had already closed (a restart, a
// failover, pg_terminate_backend) while it sat idle in the pool. The idle watch drops such
// connections as soon as the server's FATAL or close arrives; this covers the moment between
// that and a checkout. When the first thing read back is the close (or the server's FATAL),
// before any answer, nothing of the request ran: the session is rewound to before it and the
// request goes through serve_loop again, once, on a fresh connection.
//
// Only what building a request leaves in the session is rewound; a request that leaves more
// (a named prepared statement, a DEALLOCATE of one, a tenant switch) is not retried, and the
// client gets 08006 as for any lost connection.
#include "proxy/session/client_session.h"

namespace shardgate::proxy {

ClientSession::RetryPoint ClientSession::retry_point() const {
  RetryPoint p;
  p.armed = lease_reused_ && !retried_head_ && !session_mode() && !pending_switch_ &&
            !exchange_.awaiting_reply();
  if (!p.armed) return p;
  p.head_counted = head_counted_;
  p.raised_in_server = raised_in_server_;
  p.statements = statements_.size();
  p.unnamed_refusal = unnamed_refusal_;
  p.unnamed_command = unnamed_command_;
  p.search_path_pending = search_path_pending_;
  p.search_path_pending_failed = search_path_pending_failed_;
  p.queries_taken = queries_taken_;
  p.rate_refusals = rate_refusals_;
  return p;
}

bool ClientSession::retry_possible(const RetryPoint& point) const {
  // A refusal over the rate is not rebuilt: built again, its message would go uncharged.
  return point.armed && statements_.size() == point.statements && !pending_switch_ &&
         !stop_for_local_ && !skip_to_sync_ && rate_refusals_ == point.rate_refusals;
}

void ClientSession::rewind_to(const RetryPoint& point) {
  reset_checkout_state();
  head_counted_ = point.head_counted;
  raised_in_server_ = point.raised_in_server;
  unnamed_refusal_ = point.unnamed_refusal;
  unnamed_command_ = point.unnamed_command;
  search_path_pending_ = point.search_path_pending;
  search_path_pending_failed_ = point.search_path_pending_failed;
  recount_skip_ = queries_taken_ - point.queries_taken;  // counted once, by the first attempt
  server_farewell_.clear();
}

void ClientSession::prepare_retry() {
  log_event(spdlog::level::info, "server connection closed while idle: request sent again", &log_);
  // What closed this one (a restart, a failover) closed the pool's other idle connections
  // of its time too; the watch may not have seen their close yet.
  server_pool_->drop_idle_opened_before(std::chrono::steady_clock::now());
  return_server(false);
  retrying_ = true;
}

}  // namespace shardgate::proxy
