// The concurrent relay: both directions of a checkout at once, client to server and server to
// client, until the transaction is over (and, in session mode, for the whole session). Used
// when the sequential path does not fit or hands over (checkout/sequential.cc).
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/stream_scanner.h"

namespace shardgate::proxy {

namespace {

using namespace asio::experimental::awaitable_operators;

awaitable<bool> fill_some(Stream& stream, ReadBuffer& buf) {
  auto space = buf.prepare(16 * 1024);
  auto [ec, n] = co_await stream.read_some(space);
  if (ec) co_return false;
  buf.commit(n);
  co_return true;
}

}  // namespace

// What the directions of one concurrent relay share.
struct ClientSession::Relay {
  Relay(const asio::any_io_executor& executor, const ContextPrefix& p, RequestRewriter r)
      : prefix(p),
        hold(!p.empty()),
        confirmed(executor, asio::steady_timer::time_point::max()),
        local_wait(executor, asio::steady_timer::time_point::max()),
        rewriter(std::move(r)) {}
  void finish(CheckoutEnd why) {
    if (!end) end = why;
  }

  const ContextPrefix& prefix;
  std::optional<CheckoutEnd> end;
  bool hold;  // until the context is confirmed, forward one request only
  bool context_failed = false;
  asio::steady_timer confirmed;   // cancelled once the prefix's answers are in
  asio::steady_timer local_wait;  // cancelled when a stopped request may be looked at again
  RequestRewriter rewriter;
  StreamScanner client_scan;  // the client's messages (a large CopyData passes through)
  Throttle throttle{0};
};

// What one pass over the client's buffered bytes gathered for the server.
struct ClientSession::Gathered {
  size_t consumed = 0;
  bool terminated = false;  // a Terminate: the client is leaving
  bool held = false;        // one request went out; the rest waits for the context
  bool protocol_error = false;
};

awaitable<ClientSession::CheckoutEnd> ClientSession::run_relay(const ContextPrefix& prefix) {
  auto executor = client_.get_executor();
  Relay relay(executor, prefix,
              RequestRewriter(worker_->statements, statements_, server_->prepared));
  shutdown_signal_.emplace(executor, asio::steady_timer::time_point::max());
  co_await (relay_requests(relay) || relay_replies(relay) || relay_shutdown(relay));
  shutdown_signal_.reset();
  co_return *relay.end;
}

ClientSession::Gathered ClientSession::gather_requests(Relay& relay, protocol::Bytes& out) {
  Gathered g;
  auto data = client_buf_.data();
  ScanResult r = relay.client_scan.scan(data, [&](const ScannedFrame& f) {
    if (f.rest) {  // more of a large CopyData, passed on as it comes
      out.insert(out.end(), f.bytes.begin(), f.bytes.end());
      return ScanAction::kContinue;
    }
    if (f.type == protocol::fe::kTerminate) {
      g.terminated = true;
      return ScanAction::kStopBefore;
    }
    if (!f.whole()) {
      if (f.type != protocol::fe::kCopyData) {  // wait for the whole message, up to the limit
        g.protocol_error = f.total > protocol::kDefaultMaxMessage;
        return ScanAction::kStopBefore;
      }
      out.insert(out.end(), f.bytes.begin(), f.bytes.end());
      return ScanAction::kContinue;
    }
    auto added = add_request(f.type, f.bytes, out, relay.rewriter, relay.throttle);
    if (added == Added::kStopped) return ScanAction::kStopBefore;  // answered after the checkout
    if (added == Added::kProtocolError) {
      g.protocol_error = true;
      return ScanAction::kStopBefore;
    }
    if (relay.hold && (f.type == protocol::fe::kQuery || f.type == protocol::fe::kSync ||
                       f.type == protocol::fe::kFunctionCall)) {
      g.held = true;
      return ScanAction::kStopAfter;
    }
    return ScanAction::kContinue;
  });
  g.consumed = r.forward;
  g.protocol_error = g.protocol_error || r.error;
  return g;
}

bool ClientSession::leave_between_transactions() {
  // Session mode, between transactions, and the tenant or shard was paused (or the directory
  // changed): end the checkout here; serve_loop holds the next statement until RESUME, or ends
  // the session if the tenant is gone (server kept otherwise).
  return session_mode() && !client_buf_.empty() &&
         (runtime_changed() || (services_.pauses.any() && !enter_unless_paused()));
}

awaitable<void> ClientSession::relay_requests(Relay& relay) {
  auto executor = client_.get_executor();
  Stream& server = server_->stream();
  bool first = true;
  for (;;) {
    if (!first && exchange_.idle() && relay.client_scan.streaming_remaining() == 0 &&
        leave_between_transactions()) {
      relay.finish(CheckoutEnd::kReleased);
      co_return;
    }
    protocol::Bytes& out = request_out_;  // reused: no allocation per request
    out.clear();
    if (first) out.assign(relay.prefix.bytes.begin(), relay.prefix.bytes.end());
    Gathered g = gather_requests(relay, out);
    if (g.protocol_error) {
      relay.finish(CheckoutEnd::kProtocolError);
      co_return;
    }
    if (exchange_.idle()) set_in_flight(false);
    if (relay.throttle.count() > 0) {
      // Over the tenant's rate in throttle mode: wait our turn (at most rate.max_delay).
      asio::steady_timer wait(executor, relay.throttle);
      co_await wait.async_wait(use_nothrow);
      relay.throttle = {};
      if (relay.end) co_return;
    }
    if (!out.empty()) {
      auto ec = co_await write_bytes(server, out);
      if (ec) {
        relay.finish(CheckoutEnd::kServerGone);
        co_return;
      }
    }
    first = false;
    client_buf_.consume(g.consumed);
    client_buf_.shrink_if_idle(64 * 1024);
    if (g.terminated) {
      relay.finish(CheckoutEnd::kClientTerminated);
      co_return;
    }
    if (stop_for_local_) {
      // The next message is answered by shardgate once the server side is idle.
      if (exchange_.idle() && server_->buffer().empty()) {
        relay.finish(CheckoutEnd::kReleased);
        co_return;
      }
      co_await relay.local_wait.async_wait(use_nothrow);  // woken by relay_replies
      if (relay.end) co_return;
      continue;  // still stopped, or cleared: look at the message again
    }
    if (g.held) {
      // The confirmation may already have come while this coroutine was writing.
      if (relay.hold && !relay.context_failed && !relay.end)
        co_await relay.confirmed.async_wait(use_nothrow);
      if (relay.context_failed || relay.end) co_return;
      continue;
    }
    bool got_data = co_await fill_some(client_, client_buf_);
    // The other side may have ended the checkout meanwhile (the read completed just as it was
    // being cancelled): what arrived belongs to the next checkout, leave it in the buffer.
    if (relay.end) co_return;
    if (!got_data) {
      relay.finish(CheckoutEnd::kClientGone);  // or an idle limit passed (check_idle)
      co_return;
    }
    note_activity();
  }
}

awaitable<bool> ClientSession::relay_prefix_replies(Relay& relay) {
  Stream& server = server_->stream();
  ReadBuffer& server_buf = server_->buffer();
  int remaining = relay.prefix.commands;
  while (remaining > 0) {
    auto [ec, frame] = co_await read_message(server, server_buf);
    if (ec || frame.status != protocol::FrameStatus::kFrame) {
      relay.finish(CheckoutEnd::kServerGone);
      co_return false;
    }
    if (frame.type == protocol::be::kNotification) {
      // A session-mode listener's notification, sent while the context was being set again.
      protocol::ByteSpan whole = server_buf.data().first(frame.size);
      protocol::Bytes scratch;
      if (deliverable(frame.type, whole, expect_, scratch) &&
          co_await write_bytes(client_, whole)) {
        relay.finish(CheckoutEnd::kClientGone);
        co_return false;
      }
    }
    relay.context_failed = !absorb_prefix_response(frame.type, frame.body, remaining);
    server_buf.consume(frame.size);
    if (relay.context_failed) break;
  }
  if (relay.context_failed) {
    relay.confirmed.cancel();
    relay.finish(CheckoutEnd::kContextFailed);
    co_return false;
  }
  if (!relay.prefix.empty()) server_->context_tenant = context_key();
  if (!prefix_reports_.empty() && !co_await send_prefix_reports()) {
    relay.finish(CheckoutEnd::kClientGone);
    co_return false;
  }
  relay.hold = false;
  relay.confirmed.cancel();
  co_return true;
}

ClientSession::Gathered ClientSession::gather_replies(protocol::ByteSpan data,
                                                      StreamScanner& scanner, protocol::Bytes& out,
                                                      bool& dropped, protocol::Bytes& scratch) {
  Gathered g;
  ScanResult r = scanner.scan(data, [&](const ScannedFrame& f) {
    if (f.rest) return ScanAction::kContinue;  // forwarded as is (nothing dropped before it)
    if (f.whole()) {
      pass_reply(f, data, out, dropped, scratch);
      return ScanAction::kContinue;
    }
    if (f.type == protocol::be::kNotification) {  // PostgreSQL never sends one this big
      g.protocol_error = true;
      return ScanAction::kStopBefore;
    }
    route_response(f.type, false, expect_, server_->prepared);  // a big DataRow/CopyData
    if (dropped) out.insert(out.end(), f.bytes.begin(), f.bytes.end());
    return ScanAction::kContinue;
  });
  g.consumed = r.forward;
  g.protocol_error = g.protocol_error || r.error;
  return g;
}

awaitable<void> ClientSession::relay_replies(Relay& relay) {
  bool prefix_done = co_await relay_prefix_replies(relay);
  if (!prefix_done) co_return;
  // Relay until the transaction is over. Responses to shardgate's own messages are dropped;
  // everything else passes through in order.
  Stream& server = server_->stream();
  ReadBuffer& server_buf = server_->buffer();
  StreamScanner scanner;
  protocol::Bytes scratch;  // a notification under the client's channel name
  for (;;) {
    auto data = server_buf.data();
    bool dropped = false;
    protocol::Bytes out;
    Gathered g = gather_replies(data, scanner, out, dropped, scratch);
    if (g.protocol_error) {
      relay.finish(CheckoutEnd::kServerGone);
      co_return;
    }
    protocol::ByteSpan to_client = dropped ? protocol::ByteSpan(out) : data.first(g.consumed);
    if (!to_client.empty()) {
      auto ec = co_await write_bytes(client_, to_client);
      if (ec) {
        relay.finish(CheckoutEnd::kClientGone);
        co_return;
      }
    }
    server_buf.consume(g.consumed);
    server_buf.shrink_if_idle(64 * 1024);
    if (exchange_.idle() && server_buf.empty() && scanner.streaming_remaining() == 0 &&
        (!session_mode() || stop_for_local_ || pending_switch_ || shutdown_requested_ ||
         state_dirty_)) {
      // (session mode: after RESET ALL / DISCARD ALL / SET, end the checkout so the next
      // statement gets the tenant context again)
      relay.finish(shutdown_requested_ ? CheckoutEnd::kShutdown : CheckoutEnd::kReleased);
      co_return;
    }
    if (stop_for_local_ && exchange_.quiet() && exchange_.in_transaction()) {
      // A session command queued behind a BEGIN: it is inside a transaction after all.
      stop_for_local_ = false;
      relay.local_wait.cancel();
    }
    bool got_data = co_await fill_some(server, server_buf);
    if (relay.end) co_return;
    if (!got_data) {
      relay.finish(CheckoutEnd::kServerGone);
      co_return;
    }
  }
}

awaitable<void> ClientSession::relay_shutdown(Relay& relay) {
  co_await shutdown_signal_->async_wait(use_nothrow);
  if (shutdown_requested_ && exchange_.idle())
    relay.finish(CheckoutEnd::kShutdown);
  else if (!relay.end)
    co_await asio::steady_timer(client_.get_executor(), asio::steady_timer::time_point::max())
        .async_wait(use_nothrow);
}

}  // namespace shardgate::proxy
