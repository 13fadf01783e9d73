// Pipelining (a tier's pipeline_depth > 1, transaction mode): while a pool is exhausted, a
// request that is one self-contained statement queues behind another request of the same
// tenant on a busy server connection instead of waiting for a free one. It is written at
// by the connection's owner as soon as the server starts answering the request before it, so
// every request that queued meanwhile goes out in one write and PostgreSQL finds them
// waiting when it finishes (one wake-up for several requests). pool/pipeline.h has the
// hand-down protocol; relay_response (checkout_sequential.cc) stops at each request's own
// ReadyForQuery and never hands a connection with queued requests to the concurrent relay.
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/statement_text.h"
#include "proxy/session/stream_scanner.h"
#include "routing/guard/plain_statement.h"

namespace shardgate::proxy {

bool ClientSession::context_matches(const pool::ServerConnection& conn) const {
  if (conn.context_tenant != context_key() || conn.last_tenant != route_->tenant) return false;
  return settings_.in_sync(conn.settings);
}

bool ClientSession::pipelinable_request() const {
  auto data = client_buf_.data();
  auto head = protocol::parse_header(data);
  if (head.status == protocol::FrameStatus::kError) return false;
  if (head.type == protocol::fe::kQuery)
    return forward_memo_set_ && memo_one_statement_ && routing::starts_as_dml(forward_memo_);
  // An extended batch executing one statement: [Parse] Bind [Describe] Execute Sync.
  int parses = 0, binds = 0, describes = 0, executes = 0;
  std::string_view parse_name, parse_text, bind_name;
  bool one_execution = true;
  auto no = [&] {
    one_execution = false;
    return ScanAction::kStopBefore;
  };
  ScanResult r = StreamScanner().scan(data, [&](const ScannedFrame& f) {
    if (!f.whole()) return no();
    switch (f.type) {
      case protocol::fe::kParse: {
        if (++parses > 1 || binds > 0) return no();
        protocol::Reader reader(f.body());
        parse_name = reader.cstr();
        parse_text = parse_statement_text(f.body());
        return ScanAction::kContinue;
      }
      case protocol::fe::kBind: {
        if (++binds > 1) return no();
        protocol::Reader reader(f.body());
        reader.cstr();  // portal
        bind_name = reader.cstr();
        return reader.ok() ? ScanAction::kContinue : no();
      }
      case protocol::fe::kDescribe:
        return ++describes > 1 ? no() : ScanAction::kContinue;
      case protocol::fe::kExecute:
        return ++executes > 1 || binds != 1 ? no() : ScanAction::kContinue;
      case protocol::fe::kSync:
        return ScanAction::kContinue;
      default:
        return no();  // Close, Flush, ...: not one plain execution
    }
  });
  if (!one_execution || r.error) return false;
  if (binds != 1 || executes != 1) return false;
  std::string_view text;
  if (parses == 1) {
    if (parse_name != bind_name) return false;
    text = parse_text;
  } else {
    if (bind_name.empty()) return false;  // the unnamed statement of an earlier batch
    const auto* entry = statements_.find(std::string(bind_name));
    if (!entry || entry->command || entry->statement->parse.size() <= 5) return false;
    text = parse_statement_text(protocol::ByteSpan(entry->statement->parse).subspan(5));
  }
  if (refused_statements_.contains(std::string(bind_name))) return false;
  return routing::starts_as_dml(text);
}

bool ClientSession::pipelining_on(std::chrono::steady_clock::time_point now) const {
  if (!route_ || route_->tier->pipeline_depth <= 1 || session_mode()) return false;
  // Throttling delays a request after it is built; a queued request cannot wait.
  const auto& rate = route_->tier->rate;
  if (rate.queries_per_second > 0 && rate.action == config::RateAction::kThrottle) return false;
  return !tenant_state_ || tenant_state_->may_pipeline(now);
}

ClientSession::Joinable ClientSession::joinable_pipeline() {
  auto now = std::chrono::steady_clock::now();
  if (!pipelining_on(now)) return {};
  bool quick = !tenant_state_ || tenant_state_->quick_statements(now);
  pool::ServerConnection* conn = current_pool().pipeline_for(route_->tenant, quick);
  if (!conn || !sequential_fits() || !pipelinable_request() || !context_matches(*conn)) return {};
  return {conn, quick};
}

awaitable<bool> ClientSession::flush_pipeline(pool::ServerConnection& conn) {
  pool::Pipeline& pipe = conn.pipeline;
  while (!pipe.outbox.empty()) {
    pipe.sending.swap(pipe.outbox);  // others may append while this is written
    int requests = std::exchange(pipe.outbox_requests, 0);
    auto ec = co_await write_bytes(conn.stream(), pipe.sending);
    pipe.sending.clear();
    pipe.unanswered += requests;
    if (ec) {
      conn.close();  // everyone on it reads an error and reports the lost connection
      pipe.outbox.clear();
      co_return false;
    }
  }
  co_return true;
}

awaitable<ClientSession::CheckoutEnd> ClientSession::run_joined(Joinable join) {
  pool::ServerConnection& conn = *join.conn;
  reset_checkout_state();
  pool::ServerPool& pool = current_pool();
  pool::Pipeline& pipe = conn.pipeline;
  RequestRewriter rewriter(worker_->statements, statements_, conn.prepared);
  protocol::Bytes& out = request_out_;
  out.clear();
  Throttle throttle{0};
  size_t consumed = 0;
  auto added = build_request(out, rewriter, consumed, throttle);
  client_buf_.consume(consumed);
  bool failed = added != Added::kAdded;
  if (failed) {
    if (out.empty()) co_return CheckoutEnd::kProtocolError;  // nothing queued, nothing owed
    // Part of a batch was rewritten (the connection's statement list already counts it): send
    // that part, closed with a Sync, and read its answer without forwarding it.
    protocol::encode_sync(out);
    exchange_.sent(protocol::fe::kSync);
    begin_request(protocol::fe::kSync, {});
  }

  pool::PipelineSlot slot(client_.get_executor());
  pipe.queue.push_back(&slot);
  ++pipe.served;
  pool.count_pipelined(join.quick);
  pipe.outbox.insert(pipe.outbox.end(), out.begin(), out.end());
  ++pipe.outbox_requests;
  // The connection's owner writes it (relay_response) when the server starts answering the
  // request before, or before it reads anything: one write for all that queued meanwhile.
  waiting_ = true;
  if (!slot.turn) co_await slot.wake.async_wait(use_nothrow);
  waiting_ = false;
  if (slot.turn && !request_timing_.empty()) request_timing_.front().turn = slot.turn_at;
  if (!slot.turn) {  // the worker is stopping: the answers on this connection no longer line up
    std::erase(pipe.queue, &slot);
    conn.close();
    co_return CheckoutEnd::kServerGone;
  }
  server_ = std::move(slot.granted);
  server_pool_ = &pool;
  server_tenant_ = route_->tenant;
  cancel_slot_->set(server_->shared_cancel_target());

  sequential_expired_ = false;
  auto done = co_await relay_response(failed);
  CheckoutEnd end;
  if (failed)
    end = CheckoutEnd::kProtocolError;
  else if (done)
    end = *done;
  else
    end = co_await run_relay(ContextPrefix{});
  if (finish_checkout(end)) co_await report_checkout_failure(end);
  co_return end;
}

}  // namespace shardgate::proxy
