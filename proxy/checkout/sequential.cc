// Transaction mode's common case without running both directions at once: a checkout that
// starts with one request (a simple Query, or an extended batch up to its Sync) writes it
// behind the tenant context and reads the server until ReadyForQuery, forwarding as it goes.
// No client read, no second coroutine, no cancellation: for the usual short statement that is
// all a checkout needs.
//
// Whatever this path does not handle hands over to the concurrent relay (checkout_relay.cc)
// at a message boundary: a server that has not finished within two ticks of the worker's
// 5 ms watch (so a client that leaves mid-query is still noticed), COPY FROM STDIN, an open
// transaction block, a message too large to buffer.
#include "pool/pool_decisions.h"
#include "pool/server_liveness.h"
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/stream_scanner.h"

namespace shardgate::proxy {

namespace {

constexpr auto kTick = std::chrono::milliseconds(5);
constexpr uint64_t kTicksBeforeHandover = 2;

void run_watch(Worker& worker) {
  auto& watch = worker.sequential_watch;
  if (watch.running) return;
  if (!watch.timer) watch.timer = std::make_unique<asio::steady_timer>(worker.io);
  watch.running = true;
  watch.timer->expires_after(kTick);
  watch.timer->async_wait([&worker](error_code ec) {
    auto& w = worker.sequential_watch;
    w.running = false;
    if (ec) return;
    ++w.tick;
    for (auto it = w.waiting.begin(); it != w.waiting.end();) {
      if (w.tick - it->second >= kTicksBeforeHandover) {
        it->first->expire_sequential();
        w.waiting.erase(it++);
      } else {
        ++it;
      }
    }
    if (!w.waiting.empty()) run_watch(worker);
  });
}

// Registers a session waiting on its server for as long as it lives.
class WatchedWait {
 public:
  WatchedWait(Worker& worker, ClientSession* session) : worker_(worker), session_(session) {
    worker_.sequential_watch.waiting.insert_or_assign(session_, worker_.sequential_watch.tick);
    run_watch(worker_);
  }
  ~WatchedWait() { worker_.sequential_watch.waiting.erase(session_); }
  WatchedWait(const WatchedWait&) = delete;
  WatchedWait& operator=(const WatchedWait&) = delete;

 private:
  Worker& worker_;
  ClientSession* session_;
};

}  // namespace

void ClientSession::expire_sequential() {
  sequential_expired_ = true;
  if (server_) {
    error_code ignored;
    server_->stream().cancel(ignored);  // the pending read ends; the data stays in the socket
  }
}

bool ClientSession::sequential_fits() {
  if (session_mode() || stop_for_local_ || skip_to_sync_ || shutdown_requested_ || !route_)
    return false;
  // Whole messages only, exactly one request (a Query, or an extended batch up to its Sync),
  // ending the buffer: what a client waiting for its answer has sent.
  auto data = client_buf_.data();
  bool fits = false;
  ScanResult r = StreamScanner().scan(data, [&](const ScannedFrame& f) {
    if (!f.whole()) return ScanAction::kStopBefore;
    switch (f.type) {
      case protocol::fe::kQuery:
      case protocol::fe::kSync:
        fits = f.bytes.data() + f.bytes.size() == data.data() + data.size();
        return ScanAction::kStopAfter;
      case protocol::fe::kParse:
      case protocol::fe::kBind:
      case protocol::fe::kDescribe:
      case protocol::fe::kExecute:
      case protocol::fe::kClose:
        return ScanAction::kContinue;
      default:
        return ScanAction::kStopBefore;  // Flush, COPY, function calls, Terminate: the relay's
    }
  });
  return fits && !r.error;
}

ClientSession::Added ClientSession::build_request(protocol::Bytes& out, RequestRewriter& rewriter,
                                                  size_t& consumed, Throttle& throttle) {
  // The serve loop buffered the request's whole messages; anything after them waits.
  StreamScanner scanner;
  Added added = Added::kAdded;
  ScanResult r = scanner.scan(client_buf_.data(), [&](const ScannedFrame& f) {
    if (!f.whole()) return ScanAction::kStopBefore;
    added = add_request(f.type, f.bytes, out, rewriter, throttle);
    // kStopped: a session command, answered later
    return added == Added::kAdded ? ScanAction::kContinue : ScanAction::kStopBefore;
  });
  consumed = r.forward;
  return r.error ? Added::kProtocolError : added;
}

awaitable<std::optional<ClientSession::CheckoutEnd>> ClientSession::run_sequential(
    const ContextPrefix& prefix) {
  Stream& server = server_->stream();
  ReadBuffer& server_buf = server_->buffer();
  sequential_expired_ = false;
  RetryPoint retry = retry_point();
  // Decided before the request is consumed: may others queue behind this one (pipeline.h)?
  bool may_pipeline = pipelining_on(std::chrono::steady_clock::now()) && pipelinable_request();
  bool peek = may_pipeline && retry.armed &&
              pool::decide::peek_before_pipelining(lease_reused_, lease_idle_for_);
  lease_idle_for_ = {};  // the lease's first request only
  if (peek && !server_->looks_alive()) {
    rewind_to(retry);  // closed while idle: nothing was sent or consumed
    co_return CheckoutEnd::kStale;
  }
  RequestRewriter rewriter(worker_->statements, statements_, server_->prepared);

  // The request: context prefix + the client's messages, vetted and rewritten, in one write.
  protocol::Bytes& out = request_out_;
  out.assign(prefix.bytes.begin(), prefix.bytes.end());
  Throttle throttle{0};
  size_t consumed = 0;
  auto added = build_request(out, rewriter, consumed, throttle);
  if (added == Added::kProtocolError) co_return CheckoutEnd::kProtocolError;
  bool stopped = added == Added::kStopped;  // a session command: the relay stops before it
  // Not while others may queue behind this request: waiting for its first answer would keep
  // the pipeline closed to them (a trusted connection: a lost server is 08006).
  bool may_retry = !stopped && !may_pipeline && retry_possible(retry);
  if (throttle.count() > 0) {
    // Over the tenant's rate in throttle mode: wait our turn (at most rate.max_delay).
    asio::steady_timer wait(client_.get_executor(), throttle);
    co_await wait.async_wait(use_nothrow);
  }
  if (!out.empty()) {
    auto wec = std::get<0>(co_await server.write(out));  // no write_bytes frame around it
    if (wec && may_retry) {
      rewind_to(retry);
      co_return CheckoutEnd::kStale;
    }
    if (wec) co_return CheckoutEnd::kServerGone;
  }
  if (may_retry) {
    // A connection from the idle list: is the server that gets the request still there?
    bool alive = co_await first_answer_alive();
    if (!alive) {
      rewind_to(retry);
      co_return CheckoutEnd::kStale;
    }
  }
  client_buf_.consume(consumed);

  // Phase 1: the context prefix's responses are shardgate's own. They come before the
  // client's statement runs, so this wait is short and needs no watch.
  int remaining = prefix.commands;
  while (remaining > 0) {
    auto [ec, frame] = co_await read_message(server, server_buf);
    if (ec || frame.status != protocol::FrameStatus::kFrame) co_return CheckoutEnd::kServerGone;
    bool confirmed = absorb_prefix_response(frame.type, frame.body, remaining);
    server_buf.consume(frame.size);
    if (!confirmed) co_return CheckoutEnd::kContextFailed;
  }
  if (!prefix.empty()) server_->context_tenant = context_key();
  if (!prefix_reports_.empty() && !co_await send_prefix_reports())
    co_return CheckoutEnd::kClientGone;
  // A session command met on the way: the relay sends nothing more and answers it after
  // what was sent has been answered.
  if (stopped) co_return std::nullopt;
  if (may_pipeline && !stopped) {
    server_pool_->open_pipeline(*server_);
    ++server_->pipeline.served;
  }
  co_return co_await relay_response(false);
}

awaitable<bool> ClientSession::first_answer_alive() {
  Stream& server = server_->stream();
  ReadBuffer& buf = server_->buffer();
  WatchedWait watched(*worker_, this);
  for (;;) {
    auto data = buf.data();
    if (data.size() >= 5) {
      auto header = protocol::parse_header(data);
      // Anything but an ErrorResponse is an answer; so is one too large to be a farewell.
      if (header.status == protocol::FrameStatus::kError ||
          header.type != protocol::be::kErrorResponse || header.total > 64 * 1024)
        co_return true;
      if (header.total <= data.size())
        co_return !pool::ends_connection(header.type, data.subspan(5, header.total - 5));
    }
    // Still running after the watch's ticks: a live server (relay_response hands over).
    if (sequential_expired_) co_return true;
    auto space = buf.prepare(16 * 1024);
    auto [ec, n] = co_await server.read_some(std::span<uint8_t>(space.data(), space.size()));
    if (ec == asio::error::operation_aborted && sequential_expired_) co_return true;
    if (ec) co_return false;
    buf.commit(n);
  }
}

// Reads more of the server's answer, first writing this request (and what queued behind it)
// if it still waits in the outbox. kHandOver when the watch expired and nobody waits behind.
awaitable<ClientSession::ServerRead> ClientSession::read_server_more() {
  pool::Pipeline& pipe = server_->pipeline;
  ReadBuffer& server_buf = server_->buffer();
  for (;;) {
    // This request itself still waits in the outbox (everything before it was answered):
    // write it, with whatever queued behind it.
    if (!pipe.outbox.empty() && pipe.unanswered <= 0) {
      bool sent = co_await flush_pipeline(*server_);
      if (!sent) co_return ServerRead::kGone;
    }
    if (sequential_expired_) {
      // A slow statement: nobody new queues behind it.
      server_pool_->close_pipeline(*server_);
      if (pipe.queue.empty()) co_return ServerRead::kHandOver;
      sequential_expired_ = false;  // keep reading: the queued requests need this path
    }
    auto space = server_buf.prepare(16 * 1024);
    auto [ec, n] = co_await server_->stream().read_some(space);
    if (ec == asio::error::operation_aborted && sequential_expired_) continue;
    if (ec) co_return ServerRead::kGone;
    server_buf.commit(n);
    // The server is answering the last request it was given: send what queued meanwhile,
    // together, so it finds them waiting. While it has more to answer, let them gather.
    if (!pipe.outbox.empty() && pipe.unanswered <= 1) {
      bool sent = co_await flush_pipeline(*server_);
      if (!sent) co_return ServerRead::kGone;
    }
    co_return ServerRead::kData;
  }
}

// Walks the messages buffered from the server, deciding for each whether the client sees it.
// What the client sees is `data.first(consumed)` unless `dropped`: then it is response_out_
// (some message was left out or rewritten).
ClientSession::ReplyScan ClientSession::scan_replies(protocol::ByteSpan data,
                                                     StreamScanner& scanner, bool queued,
                                                     protocol::Bytes& scratch) {
  ReplyScan scan;
  protocol::Bytes& to_client = response_out_;
  bool broken = false;
  ScanResult r = scanner.scan(data, [&](const ScannedFrame& f) {
    if (f.rest) return ScanAction::kContinue;  // the rest of a large row, as it comes
    if (!f.whole()) {
      // A message larger than we buffer: the relay streams it, or with requests queued
      // behind, this path passes it through as it comes.
      if (!queued) {
        scan.hand_over = true;
        return ScanAction::kStopBefore;
      }
      bool row = f.type == protocol::be::kDataRow || f.type == protocol::be::kCopyData ||
                 f.type == protocol::be::kNoticeResponse;
      if (row && route_response(f.type, false, expect_, server_->prepared)) {
        if (scan.dropped) to_client.insert(to_client.end(), f.bytes.begin(), f.bytes.end());
        return ScanAction::kContinue;
      }
      broken = true;  // nothing else of a pipelined answer is large
      return ScanAction::kStopBefore;
    }
    pass_reply(f, data, to_client, scan.dropped, scratch);
    // This request's last ReadyForQuery: what follows belongs to the next one in line.
    if (f.type == protocol::be::kReadyForQuery && exchange_.quiet() &&
        (server_->pipeline.open || queued)) {
      scan.answered = true;
      return ScanAction::kStopAfter;
    }
    if (f.type == protocol::be::kCopyInResponse || f.type == protocol::be::kCopyBothResponse) {
      broken = queued;        // never for a pipelined request
      scan.hand_over = true;  // the client has data to send now
      return broken ? ScanAction::kStopBefore : ScanAction::kStopAfter;
    }
    return ScanAction::kContinue;
  });
  if (broken || r.error) return scan.fail();
  scan.consumed = r.forward;
  return scan;
}

// The request's answer is complete: release the connection, or keep it for the client's
// open transaction (empty: the relay takes over).
std::optional<ClientSession::CheckoutEnd> ClientSession::answer_complete(bool client_lost) {
  pool::Pipeline& pipe = server_->pipeline;
  if (!exchange_.in_transaction()) {
    server_->buffer().shrink_if_idle(64 * 1024);
    if (client_lost) return CheckoutEnd::kClientGone;
    return shutdown_requested_ ? CheckoutEnd::kShutdown : CheckoutEnd::kReleased;
  }
  // A transaction block is open: the client speaks next. Never after a pipelined request;
  // were it to happen, what is queued behind must not run inside it.
  bool others_behind = !pipe.queue.empty() || pipe.open;
  server_pool_->close_pipeline(*server_);
  if (others_behind) {
    server_->close();
    return CheckoutEnd::kServerGone;
  }
  return std::nullopt;
}

awaitable<std::optional<ClientSession::CheckoutEnd>> ClientSession::relay_response(
    bool discard_output) {
  ReadBuffer& server_buf = server_->buffer();
  pool::Pipeline& pipe = server_->pipeline;
  // Others queued behind this request: the connection must stay with this path until its
  // answer is read (no hand-over to the relay, which would forward more of this client's
  // messages into the middle of theirs), and a client that left is drained, not cancelled.
  auto queued = [&pipe] { return !pipe.queue.empty(); };
  bool client_lost = discard_output;
  StreamScanner scanner;    // a large row passes through as it comes
  protocol::Bytes scratch;  // a notification under the client's channel name
  WatchedWait watched(*worker_, this);
  for (;;) {
    auto data = server_buf.data();
    ReplyScan scan = scan_replies(data, scanner, queued(), scratch);
    if (scan.broken) co_return CheckoutEnd::kServerGone;
    if (scan.consumed > 0) {
      protocol::ByteSpan bytes =
          scan.dropped ? protocol::ByteSpan(response_out_) : data.first(scan.consumed);
      if (!bytes.empty() && !client_lost) {
        auto ec = std::get<0>(co_await client_.write(bytes));
        if (ec) {
          server_pool_->close_pipeline(*server_);
          if (!queued()) co_return CheckoutEnd::kClientGone;
          client_lost = true;  // read this request's answer to its end for those behind it
        }
      }
      server_buf.consume(scan.consumed);
    }
    if (scan.hand_over) {
      server_pool_->close_pipeline(*server_);  // the relay's turn: nobody queues behind it
      co_return std::nullopt;
    }
    if (exchange_.quiet() && scanner.streaming_remaining() == 0 &&
        (scan.answered || server_buf.empty()))
      co_return answer_complete(client_lost);
    auto got = co_await read_server_more();
    if (got == ServerRead::kGone) co_return CheckoutEnd::kServerGone;
    if (got == ServerRead::kHandOver) co_return std::nullopt;
  }
}

}  // namespace shardgate::proxy
