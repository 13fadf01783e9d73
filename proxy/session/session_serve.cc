// Serving a routed (or not yet routed) client: session mode holds one server connection for
// the whole session; transaction mode checks one out per transaction.
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/tenants/pool_spec.h"

namespace shardgate::proxy {

namespace {
bool ends_with_ready(char type) {
  return type == protocol::fe::kQuery || type == protocol::fe::kFunctionCall;
}
}  // namespace

awaitable<bool> ClientSession::head_message(char& type, protocol::ByteSpan& body, size_t& size) {
  for (;;) {
    auto frame = protocol::parse_message(client_buf_.data());
    if (frame.status == protocol::FrameStatus::kFrame) {
      type = frame.type;
      body = frame.body;
      size = frame.size;
      co_return true;
    }
    if (frame.status == protocol::FrameStatus::kError) {
      co_await send_error("FATAL", "08P01",
                          std::string("invalid message from client: ") + std::string(frame.error));
      co_return false;
    }
    size_t want = frame.needed > client_buf_.size() ? frame.needed : client_buf_.size() + 1;
    if (shutdown_requested_ && client_buf_.empty()) {
      co_await say_shutting_down();
      co_return false;
    }
    error_code ec;
    if (idle_expired_ == IdleExpiry::kNone) {
      reading_idle_ = client_buf_.empty();  // the sweep may park the session here
      // One read, then the message is parsed again (no read_at_least frame in between).
      auto [rec, got] = co_await client_.read_some(space_toward(client_buf_, want));
      ec = rec;
      if (!ec) client_buf_.commit(got);
      reading_idle_ = false;
    }
    if (idle_expired_ != IdleExpiry::kNone) {
      co_await send_idle_fatal();
      co_return false;
    }
    if (ec) {
      if (shutdown_requested_ && ec == asio::error::operation_aborted) continue;
      if (park_requested_ && ec == asio::error::operation_aborted) park();
      co_return false;
    }
    note_activity();
  }
}

awaitable<void> ClientSession::say_shutting_down() {
  co_await send_error("FATAL", "57P01", "terminating connection because shardgate is shutting down",
                      "Reconnect to another shardgate instance or retry shortly.");
}

awaitable<void> ClientSession::refuse_request(char type, std::string_view sqlstate,
                                              std::string_view message, std::string_view hint) {
  protocol::Bytes out;
  protocol::encode_error(out, "ERROR", sqlstate, message, hint);
  if (tenant_state_) tenant_state_->count_error(sqlstate);
  if (ends_with_ready(type)) {
    protocol::encode_ready_for_query(out, 'I');
  } else if (type == protocol::fe::kSync) {
    protocol::encode_ready_for_query(out, 'I');
  } else {
    skip_to_sync_ = true;  // as PostgreSQL does after an error in an extended-protocol batch
  }
  co_await write_bytes(client_, out);
}

std::optional<ClientSession::Local> ClientSession::answer_at_once(char type,
                                                                  protocol::ByteSpan body,
                                                                  StatementAction& action) {
  if (type == protocol::fe::kTerminate) return Local::kEnd;
  if (skip_to_sync_ || type == protocol::fe::kSync || type == protocol::fe::kFlush) {
    if (server_ && !skip_to_sync_) return Local::kNeedsServer;  // session mode: let it through
    return std::nullopt;
  }
  if (!route_ && type != protocol::fe::kQuery) return std::nullopt;
  if (type != protocol::fe::kQuery) return Local::kNeedsServer;
  auto sql = protocol::decode_query(body);
  if (!sql) return Local::kNeedsServer;  // the server reports the malformed message
  action = classify(*sql);
  const routing::StatementInfo& info = *action.info;
  // Answered here: a session command, a refusal, a DEALLOCATE of this session's own statements.
  if (action.kind == StatementAction::Kind::kSessionCommand ||
      action.kind == StatementAction::Kind::kRefuse || deallocates_alone(info))
    return std::nullopt;
  if (action.kind == StatementAction::Kind::kForward && info.deallocated.empty() &&
      info.session.kind == routing::SessionCommandKind::kNone && !SessionSettings::reads(info) &&
      !info.lone_reset) {
    // (a forwarded SET, RESET, RESET ALL or DISCARD ALL is noted by vet_request)
    memo_one_statement_ = info.statement_count == 1 && !info.transaction_control;
    forward_memo_.assign(*sql);  // vet_request need not classify it again (capacity kept)
    forward_memo_set_ = true;
  }
  return Local::kNeedsServer;
}

awaitable<ClientSession::Local> ClientSession::answer_locally(char type, protocol::ByteSpan body,
                                                              size_t size,
                                                              const StatementAction& action) {
  protocol::Bytes out;
  if (skip_to_sync_ || type == protocol::fe::kSync || type == protocol::fe::kFlush) {
    client_buf_.consume(size);
    if (type == protocol::fe::kSync) {
      skip_to_sync_ = false;
      protocol::encode_ready_for_query(out, 'I');
      auto ec = co_await write_bytes(client_, out);
      if (ec) co_return Local::kEnd;
    }
    co_return Local::kAnswered;
  }
  if (!route_ && type != protocol::fe::kQuery)
    co_return co_await answer_without_tenant(type, body, size);
  if (forget_own_statements(*action.info)) {
    client_buf_.consume(size);
    protocol::encode_command_complete(out, "DEALLOCATE");
    protocol::encode_ready_for_query(out, 'I');
    auto ec = co_await write_bytes(client_, out);
    co_return ec ? Local::kEnd : Local::kAnswered;
  }
  if (action.kind == StatementAction::Kind::kSessionCommand) {
    routing::SessionCommand cmd = action.info->session;
    client_buf_.consume(size);
    co_return co_await answer_session_command(cmd);
  }
  if (action.kind == StatementAction::Kind::kRefuse) {
    auto sql = protocol::decode_query(body);
    log_refusal(sql ? *sql : std::string_view(), action);  // before client_buf_ moves on
    client_buf_.consume(size);
    co_await refuse_request(type, action.sqlstate, action.message, action.hint);
    co_return Local::kAnswered;
  }
  co_return Local::kNeedsServer;  // a DEALLOCATE of statements the server knows by name
}

awaitable<bool> ClientSession::after_switch() {
  routing::SessionCommand cmd = std::move(*pending_switch_);
  pending_switch_.reset();
  std::string before = route_ ? route_->tenant : "";
  if (auto err = apply_session_command(cmd)) {
    // The client was told SET succeeded (prepared statement): fail closed, no tenant at all.
    log_event(spdlog::level::warn, "tenant switch failed: tenant cleared", &log_,
              {{"reason", err->message}});
    apply_session_command({routing::SessionCommandKind::kResetTenant, {}, {}, false});
  }
  std::string after = route_ ? route_->tenant : "";
  if (server_ && before != after) co_await release_session_server();
  if (leave_for_owner()) co_return true;
  co_return false;
}

awaitable<ClientSession::Local> ClientSession::follow_runtime(char type, size_t size,
                                                              bool mid_transaction) {
  if (!server_) {
    // A reload or an admin command (a tenant move's flip) changed the directory or config:
    // route again.
    if (auto err = refresh_runtime()) {
      client_buf_.consume(size);
      co_await refuse_request(type, err->sqlstate, err->message, err->hint);
      co_return Local::kAnswered;
    }
    if (leave_for_owner()) co_return Local::kMoved;  // the tenant's pool lives on another worker
  } else if (session_mode() && (mid_transaction || !exchange_.in_transaction())) {
    // Session mode keeps its server connection (and the settings it started with); a tenant
    // that left the directory or moved to another shard ends the session.
    bool ended = co_await end_if_placement_changed();
    if (ended) co_return Local::kMoved;
  }
  co_return Local::kNeedsServer;
}

awaitable<ClientSession::Local> ClientSession::admit_request(char type, size_t size) {
  if (!route_) {
    auto e = routing::no_tenant_error(*runtime_->config, false);
    client_buf_.consume(size);
    co_await refuse_request(type, e.sqlstate, e.message, e.hint);
    co_return Local::kAnswered;
  }
  if (runtime_changed()) {
    auto followed = co_await follow_runtime(type, size, false);
    if (followed != Local::kNeedsServer) co_return followed;
  }
  if (!server_ || session_mode()) {
    bool entered = co_await pass_pause_gate();
    if (entered && runtime_changed()) {
      // The directory changed while this request waited at the gate (a tenant move's flip):
      // it runs where the tenant lives now.
      set_in_flight(false);
      auto followed = co_await follow_runtime(type, size, true);
      if (followed != Local::kNeedsServer) co_return followed;
      entered = co_await pass_pause_gate();
    }
    if (!entered) {
      client_buf_.consume(size);
      co_await refuse_request(
          type, "57P03",
          "tenant \"" + route_->tenant + "\" is paused on shard \"" + route_->placement.shard +
              "\" (waited longer than its pause_timeout)",
          "An operator paused this tenant or shard (PAUSE on the admin socket); retry after "
          "RESUME.");
      co_return Local::kAnswered;
    }
  }
  if (rate_applies(type)) co_return co_await obey_rate(type, size, tenant_state_->take_query());
  co_return Local::kNeedsServer;
}

bool ClientSession::rate_applies(char type) const {
  // Rate limit before taking a server connection: a throttled tenant waits without holding
  // one, and a refusal needs none.
  return !server_ && tenant_state_ && type == protocol::fe::kQuery && !retried_head_;
}

awaitable<ClientSession::Local> ClientSession::obey_rate(char type, size_t size,
                                                         routing::TokenBucket::Decision decision) {
  if (!decision.allowed) {
    set_in_flight(false);
    client_buf_.consume(size);
    co_await refuse_request(type, "53400", rate_limit_message(), rate_limit_hint());
    co_return Local::kAnswered;
  }
  if (decision.delay.count() > 0) {
    asio::steady_timer wait(client_.get_executor(), decision.delay);
    co_await wait.async_wait(use_nothrow);
  }
  head_counted_ = true;
  co_return Local::kNeedsServer;
}

ClientSession::Admit ClientSession::admit_at_once(char type,
                                                  routing::TokenBucket::Decision& decision) {
  if (!route_ || runtime_changed()) return Admit::kAsk;
  // A paused tenant: admit_request waits at the gate (a failed entry leaves nothing behind).
  if ((!server_ || session_mode()) && !enter_unless_paused()) return Admit::kAsk;
  if (!rate_applies(type)) return Admit::kAdmitted;
  decision = tenant_state_->take_query();
  if (!decision.allowed || decision.delay.count() > 0) return Admit::kObeyRate;
  head_counted_ = true;
  return Admit::kAdmitted;
}

bool ClientSession::take_idle_server() {
  auto lease = server_at_once();
  if (!lease || !lease->conn) return false;
  server_ = std::move(lease->conn);
  return true;
}

awaitable<ClientSession::Local> ClientSession::take_server(char type, size_t size, Joinable join,
                                                           std::optional<CheckoutEnd>& joined) {
  // The pool is exhausted and a connection of this tenant runs a request this one may queue
  // behind (tier pipeline_depth > 1): no wait for a free connection.
  if (!server_) {
    if (join.conn) {
      stop_for_local_ = false;
      lease_reused_ = false;
      joined = co_await run_joined(join);
      if (!server_) {  // a malformed request, refused before it was queued
        protocol::Bytes out;
        protocol::encode_error(out, "FATAL", "08P01", "invalid message from client");
        co_await write_bytes(client_, out);
        co_return Local::kMoved;
      }
    }
  }
  if (!server_) {
    waiting_ = true;
    auto at_once = server_at_once();
    pool::Lease lease;
    if (at_once)
      lease = std::move(*at_once);
    else
      lease = co_await acquire_server();
    waiting_ = false;
    if (!lease.conn) {
      set_in_flight(false);
      client_buf_.consume(size);
      log_event(spdlog::level::warn, "no server connection", &log_,
                {{"reason", lease.error.message}});
      co_await refuse_request(type, lease.error.sqlstate, lease.error.message,
                              lease.error.sqlstate == "53300"
                                  ? "Retry the statement later, or raise the tier's pool_size."
                                  : "Retry later; other shards are not affected.");
      co_return Local::kAnswered;
    }
    server_ = std::move(lease.conn);
  }
  co_return Local::kNeedsServer;
}

awaitable<ClientSession::Local> ClientSession::after_checkout(CheckoutEnd end) {
  protocol::Bytes out;
  switch (end) {
    case CheckoutEnd::kReleased: {
      bool keep = session_mode() && !pending_switch_;
      if (!keep) {
        if (session_mode())
          co_await release_session_server();
        else
          return_server(true);
      }
      bool moved = false;
      if (pending_switch_) moved = co_await after_switch();
      co_return moved ? Local::kMoved : Local::kAnswered;
    }
    case CheckoutEnd::kShutdown:
      if (session_mode())
        co_await release_session_server();
      else
        return_server(true);
      co_await say_shutting_down();
      co_return Local::kMoved;
    case CheckoutEnd::kClientGone:
    case CheckoutEnd::kClientTerminated:
      if (!exchange_.quiet()) {
        // A client that leaves mid-query must not leave the query running on the shard, nor
        // half a pipeline on a connection someone else would get.
        if (exchange_.awaiting_reply()) co_await pool::send_cancel(server_->cancel_target());
        return_server(false);
      } else if (exchange_.in_transaction()) {
        // Left inside a transaction: roll it back before anyone else gets the connection.
        auto r = co_await server_->run("ROLLBACK", runtime_->config->connect_timeout);
        if (session_mode() && r.ok())
          co_await release_session_server();
        else
          return_server(r.ok());
      } else if (session_mode()) {
        co_await release_session_server();
      } else {
        return_server(true);
      }
      if (idle_expired_ != IdleExpiry::kNone) co_await send_idle_fatal();
      co_return Local::kMoved;
    case CheckoutEnd::kProtocolError:
      if (exchange_.awaiting_reply()) co_await pool::send_cancel(server_->cancel_target());
      // Nothing of this client's left on the connection (a queued request reads its answer
      // to the end first): others may use it.
      return_server(exchange_.idle());
      protocol::encode_error(out, "FATAL", "08P01", "invalid message framing from client");
      co_await write_bytes(client_, out);
      co_return Local::kMoved;
    case CheckoutEnd::kServerGone:
    case CheckoutEnd::kContextFailed:
    case CheckoutEnd::kStale:
      return_server(false);
      if (session_mode()) {
        // Session mode promised one server for the whole session: end it (08006 was sent).
        co_return Local::kMoved;
      }
      co_return Local::kAnswered;  // run_checkout already told the client
  }
  co_return Local::kAnswered;
}

awaitable<void> ClientSession::serve_loop() {
  for (;;) {
    char type = 0;
    protocol::ByteSpan body;
    size_t size = 0;
    bool got_message = co_await head_message(type, body, size);
    if (!got_message && parked_) co_return;  // resumed by the Proxy once the client sends
    if (!got_message) break;
    forward_memo_set_ = false;  // a verdict lives for this message's checkout only
    retried_head_ = std::exchange(retrying_, false);  // sent once already (kStale)
    // Each step runs as a coroutine only when it has something to wait for or to write.
    StatementAction action;
    auto at_once = answer_at_once(type, body, action);
    auto step = at_once ? *at_once : co_await answer_locally(type, body, size, action);
    if (step == Local::kNeedsServer) {
      routing::TokenBucket::Decision decision;
      Admit admit = admit_at_once(type, decision);
      if (admit == Admit::kAsk) step = co_await admit_request(type, size);
      if (admit == Admit::kObeyRate) step = co_await obey_rate(type, size, decision);
    }
    std::optional<CheckoutEnd> joined;
    if (step == Local::kNeedsServer && !server_) {
      Joinable join = joinable_pipeline();
      if (join.conn || !take_idle_server()) step = co_await take_server(type, size, join, joined);
    }
    if (step == Local::kAnswered) continue;
    if (step == Local::kMoved) co_return;
    if (step == Local::kEnd) break;
    CheckoutEnd end;
    if (joined) {
      end = *joined;
    } else {
      auto prefix = prepare_context(*server_);
      stop_for_local_ = false;
      end = co_await run_checkout(prefix);
    }
    if (end == CheckoutEnd::kStale) {
      prepare_retry();  // the request is still buffered: once more, on a fresh connection
      continue;
    }
    server_->set_transaction_status(exchange_.status());
    if (end == CheckoutEnd::kReleased && !session_mode() && !pending_switch_) {
      return_server(true);  // transaction mode's usual end: nothing to wait for
      continue;
    }
    step = co_await after_checkout(end);
    if (step == Local::kAnswered) continue;
    co_return;
  }
  if (server_) {
    if (session_mode())
      co_await release_session_server();
    else
      return_server(exchange_.idle());
  }
}

}  // namespace shardgate::proxy
