// Transaction mode: one checkout of a server connection, from the client's first message of
// a transaction to the server's ReadyForQuery 'I' with nothing else outstanding.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/stream_scanner.h"
#include "routing/guard/setting_rules.h"

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

// Command tags after which the server's session state may no longer be what shardgate set.
bool resets_session_state(std::string_view tag) {
  return tag == "SET" || tag == "RESET" || tag.starts_with("DISCARD");
}

}  // namespace

void ClientSession::reset_checkout_state() {
  pending_ = 0;
  request_timing_.clear();
  unsynced_ = false;
  status_ = 'I';
  state_dirty_ = false;
  discard_after_ = false;
  context_error_.clear();
  expect_.clear();
  settings_.clear_pending();
  prefix_reports_.clear();
}

awaitable<ClientSession::CheckoutEnd> ClientSession::run_checkout(const ContextPrefix& prefix) {
  reset_checkout_state();
  CheckoutEnd end = CheckoutEnd::kReleased;
  if (sequential_fits()) {
    auto done = co_await run_sequential(prefix);
    // Not finished sequentially (a slow statement, COPY from the client, an open transaction
    // block, a large row): the concurrent relay takes over where it stopped.
    if (done)
      end = *done;
    else
      end = co_await run_relay(ContextPrefix{});
  } else {
    end = co_await run_relay(prefix);
  }
  co_return co_await finish_checkout(end);
}

// Both directions at once: client to server and server to client, until the transaction
// is over. `prefix` goes in front of the client's first request (empty when a sequential
// start already sent it).
awaitable<ClientSession::CheckoutEnd> ClientSession::run_relay(const ContextPrefix& prefix) {
  std::optional<CheckoutEnd> end;
  auto finish = [&end](CheckoutEnd why) {
    if (!end) end = why;
  };
  Stream& server = server_->stream();
  ReadBuffer& server_buf = server_->buffer();
  auto executor = client_.get_executor();
  bool hold = !prefix.empty();  // until the context is confirmed, forward one request only
  bool context_failed = false;
  asio::steady_timer confirmed(executor, asio::steady_timer::time_point::max());
  asio::steady_timer local_wait(executor, asio::steady_timer::time_point::max());
  shutdown_signal_.emplace(executor, asio::steady_timer::time_point::max());

  std::deque<Expectation>& expect = expect_;
  RequestRewriter rewriter(worker_->statements, statements_, server_->prepared);

  auto client_to_server = [&]() -> awaitable<void> {
    bool first = true;
    size_t streaming = 0;  // bytes of a large CopyData still passing through
    routing::TokenBucket::Clock::duration throttle{0};
    for (;;) {
      if (!first && pending_ == 0 && !unsynced_ && status_ == 'I' && streaming == 0 &&
          session_mode() && !client_buf_.empty() &&
          (services_.runtime.generation() != runtime_generation_ ||
           (services_.pauses.any() && !enter_unless_paused()))) {
        // Session mode, between transactions, and the tenant or shard was paused (or the
        // directory changed): end the checkout here; serve_loop holds the next statement
        // until RESUME, or ends the session if the tenant is gone (server kept otherwise).
        finish(CheckoutEnd::kReleased);
        co_return;
      }
      protocol::Bytes& out = request_out_;  // reused: no allocation per request
      out.clear();
      if (first) out.assign(prefix.bytes.begin(), prefix.bytes.end());
      auto data = client_buf_.data();
      size_t consumed = 0;
      bool terminated = false, held = false;
      if (streaming > 0) {
        size_t take = std::min(streaming, data.size());
        out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
        consumed = take;
        streaming -= take;
      }
      while (streaming == 0 && data.size() - consumed >= 5) {
        auto header = protocol::parse_header(data.subspan(consumed));
        if (header.status == protocol::FrameStatus::kError) {
          finish(CheckoutEnd::kProtocolError);
          co_return;
        }
        char type = header.type;
        if (type == protocol::fe::kTerminate) {
          terminated = true;
          break;
        }
        size_t available = data.size() - consumed;
        if (header.total > available) {
          bool small = header.total <= StreamScanner::kStreamThreshold;
          bool copy_data = type == protocol::fe::kCopyData;
          if (!copy_data && header.total > protocol::kDefaultMaxMessage) {
            finish(CheckoutEnd::kProtocolError);
            co_return;
          }
          if (small || !copy_data) break;  // wait for the whole message
          out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(consumed), data.end());
          streaming = header.total - available;
          consumed = data.size();
          break;
        }
        auto added =
            add_request(type, data.subspan(consumed, header.total), out, rewriter, throttle);
        if (added == Added::kStopped) break;  // answered once the checkout is over
        if (added == Added::kProtocolError) {
          finish(CheckoutEnd::kProtocolError);
          co_return;
        }
        consumed += header.total;
        if (hold && (type == protocol::fe::kQuery || type == protocol::fe::kSync ||
                     type == protocol::fe::kFunctionCall)) {
          held = true;
          break;
        }
      }
      if (pending_ == 0 && !unsynced_ && status_ == 'I') set_in_flight(false);
      if (throttle.count() > 0) {
        // Over the tenant's rate in throttle mode: wait our turn (at most rate.max_delay).
        asio::steady_timer wait(executor, throttle);
        co_await wait.async_wait(use_nothrow);
        throttle = {};
        if (end) co_return;
      }
      if (!out.empty()) {
        auto ec = co_await write_bytes(server, out);
        if (ec) {
          finish(CheckoutEnd::kServerGone);
          co_return;
        }
      }
      first = false;
      client_buf_.consume(consumed);
      client_buf_.shrink_if_idle(64 * 1024);
      if (terminated) {
        finish(CheckoutEnd::kClientTerminated);
        co_return;
      }
      if (stop_for_local_) {
        // The next message is answered by shardgate once the server side is idle.
        if (pending_ == 0 && !unsynced_ && status_ == 'I' && server_buf.empty()) {
          finish(CheckoutEnd::kReleased);
          co_return;
        }
        co_await local_wait.async_wait(use_nothrow);  // woken by server_to_client
        if (end) co_return;
        continue;  // still stopped, or cleared: look at the message again
      }
      if (held) {
        // The confirmation may already have come while this coroutine was writing.
        if (hold && !context_failed && !end) co_await confirmed.async_wait(use_nothrow);
        if (context_failed || end) co_return;
        continue;
      }
      bool got_data = co_await fill_some(client_, client_buf_);
      // The other side may have ended the checkout meanwhile (the read completed just as it was
      // being cancelled): what arrived belongs to the next checkout, leave it in the buffer.
      if (end) co_return;
      if (!got_data) {
        finish(CheckoutEnd::kClientGone);
        co_return;
      }
    }
  };

  auto server_to_client = [&]() -> awaitable<void> {
    // Phase 1: swallow the responses to the context prefix.
    int remaining = prefix.commands;
    while (remaining > 0) {
      auto [ec, frame] = co_await read_message(server, server_buf);
      if (ec || frame.status != protocol::FrameStatus::kFrame) {
        finish(CheckoutEnd::kServerGone);
        co_return;
      }
      if (frame.type == protocol::be::kNotification) {
        // A session-mode listener's notification, sent while the context was being set again.
        protocol::ByteSpan whole = server_buf.data().first(frame.size);
        protocol::Bytes scratch;
        if (deliverable(frame.type, whole, expect, scratch) &&
            co_await write_bytes(client_, whole)) {
          finish(CheckoutEnd::kClientGone);
          co_return;
        }
      }
      context_failed = !absorb_prefix_response(frame.type, frame.body, remaining);
      server_buf.consume(frame.size);
      if (context_failed) break;
    }
    if (context_failed) {
      confirmed.cancel();
      finish(CheckoutEnd::kContextFailed);
      co_return;
    }
    if (!prefix.empty()) server_->context_tenant = context_key();
    if (!prefix_reports_.empty() && !co_await send_prefix_reports()) {
      finish(CheckoutEnd::kClientGone);
      co_return;
    }
    hold = false;
    confirmed.cancel();

    // Phase 2: relay until the transaction is over. Responses to shardgate's own messages
    // are dropped; everything else passes through in order.
    size_t streaming = 0;
    protocol::Bytes scratch;  // a notification under the client's channel name
    for (;;) {
      auto data = server_buf.data();
      size_t consumed = 0;
      bool dropped = false;
      protocol::Bytes out;
      if (streaming > 0) {
        consumed = std::min(streaming, data.size());
        streaming -= consumed;
      }
      while (streaming == 0 && data.size() - consumed >= 5) {
        auto header = protocol::parse_header(data.subspan(consumed));
        if (header.status == protocol::FrameStatus::kError) {
          finish(CheckoutEnd::kServerGone);
          co_return;
        }
        char type = header.type;
        size_t available = data.size() - consumed;
        if (header.total > available) {
          if (header.total <= StreamScanner::kStreamThreshold) break;
          if (type == protocol::be::kNotification) {  // PostgreSQL never sends one this big
            finish(CheckoutEnd::kServerGone);
            co_return;
          }
          route_response(type, false, expect, server_->prepared);  // a big DataRow/CopyData
          if (dropped)
            out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(consumed), data.end());
          streaming = header.total - available;
          consumed = data.size();
          break;
        }
        observe_server_message(type, data.subspan(consumed + 5, header.total - 5));
        auto whole = data.subspan(consumed, header.total);
        bool forward = deliverable(type, whole, expect, scratch);
        bool as_is = forward && whole.data() == data.data() + consumed;
        if (!as_is && !dropped) {
          dropped = true;
          out.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(consumed));
        }
        if (forward && dropped) out.insert(out.end(), whole.begin(), whole.end());
        consumed += header.total;
      }
      protocol::ByteSpan to_client = dropped ? protocol::ByteSpan(out) : data.first(consumed);
      if (!to_client.empty()) {
        auto ec = co_await write_bytes(client_, to_client);
        if (ec) {
          finish(CheckoutEnd::kClientGone);
          co_return;
        }
      }
      server_buf.consume(consumed);
      server_buf.shrink_if_idle(64 * 1024);
      if (pending_ == 0 && !unsynced_ && status_ == 'I' && server_buf.empty() && streaming == 0 &&
          (!session_mode() || stop_for_local_ || pending_switch_ || shutdown_requested_ ||
           state_dirty_)) {
        // (session mode: after RESET ALL / DISCARD ALL / SET, end the checkout so the next
        // statement gets the tenant context again)
        finish(shutdown_requested_ ? CheckoutEnd::kShutdown : CheckoutEnd::kReleased);
        co_return;
      }

      if (stop_for_local_ && pending_ == 0 && !unsynced_ && status_ != 'I') {
        // A session command queued behind a BEGIN: it is inside a transaction after all.
        stop_for_local_ = false;
        local_wait.cancel();
      }
      bool got_data = co_await fill_some(server, server_buf);
      if (end) co_return;
      if (!got_data) {
        finish(CheckoutEnd::kServerGone);
        co_return;
      }
    }
  };

  auto wait_shutdown = [&]() -> awaitable<void> {
    co_await shutdown_signal_->async_wait(use_nothrow);
    if (shutdown_requested_ && pending_ == 0 && !unsynced_ && status_ == 'I')
      finish(CheckoutEnd::kShutdown);
    else if (!end)
      co_await asio::steady_timer(executor, asio::steady_timer::time_point::max())
          .async_wait(use_nothrow);
  };
  co_await (client_to_server() || server_to_client() || wait_shutdown());
  shutdown_signal_.reset();
  co_return *end;
}

awaitable<ClientSession::CheckoutEnd> ClientSession::finish_checkout(CheckoutEnd end) {
  request_timing_.clear();
  set_in_flight(false);
  if (state_dirty_) server_->context_tenant.clear();
  if (discard_after_) server_->close();  // a DEALLOCATE may have removed a shared statement

  protocol::Bytes out;
  if (end == CheckoutEnd::kContextFailed) {
    log_event(spdlog::level::err, "could not set tenant context", &log_,
              {{"reason", context_error_}});
    protocol::encode_error(out, "ERROR", "08006",
                           "could not set the context of tenant \"" + route_->tenant +
                               "\" on shard \"" + route_->placement.shard + "\": " + context_error_,
                           "Check the tier's role and the tenant's schema on the shard.");
    if (pending_ > 0)
      protocol::encode_ready_for_query(out, 'I');
    else
      skip_to_sync_ = unsynced_;
  } else if (end == CheckoutEnd::kServerGone) {
    log_event(spdlog::level::warn, "shard connection lost", &log_);
    protocol::encode_error(out, session_mode() ? "FATAL" : "ERROR", "08006",
                           "lost the connection to shard \"" + route_->placement.shard +
                               "\" serving tenant \"" + route_->tenant + "\"",
                           "Retry the transaction; the shard may be restarting.");
    if (pending_ > 0)
      protocol::encode_ready_for_query(out, 'I');
    else
      skip_to_sync_ = unsynced_;
  }
  if (!out.empty()) {
    pending_ = 0;
    unsynced_ = false;
    status_ = 'I';
    co_await write_bytes(client_, out);
  }
  co_return end;
}

ClientSession::Added ClientSession::add_request(char type, protocol::ByteSpan raw,
                                                protocol::Bytes& out, RequestRewriter& rewriter,
                                                routing::TokenBucket::Clock::duration& throttle) {
  protocol::Bytes substitute;
  std::optional<routing::SessionCommand> command;
  if (!vet_request(type, raw.subspan(5), raw, substitute, command)) return Added::kStopped;
  if (type == protocol::fe::kBind && strip_refused_bind(raw.subspan(5), substitute))
    raw = protocol::ByteSpan(substitute);
  switch (type) {
    case protocol::fe::kQuery:
    case protocol::fe::kFunctionCall:
      begin_request(type, raw.subspan(5));
      break;
    case protocol::fe::kSync:
      begin_request(type, raw.subspan(5));
      unsynced_ = false;
      break;
    case protocol::fe::kParse:
    case protocol::fe::kBind:
      if (slow_threshold().count() > 0) note_statement(type, raw.subspan(5));
      unsynced_ = true;
      break;
    case protocol::fe::kDescribe:
    case protocol::fe::kExecute:
    case protocol::fe::kClose:
      unsynced_ = true;
      break;
    default:
      break;
  }
  std::string error;
  const routing::SessionCommand* bound = nullptr;
  bool rejected = false;
  bool counted = head_counted_ && type == protocol::fe::kQuery;
  head_counted_ = false;  // only the checkout's first message was counted beforehand
  if ((type == protocol::fe::kQuery || type == protocol::fe::kExecute) && tenant_state_ &&
      !counted) {
    // One query message, or one Execute, counts once against the tenant's rate.
    tenant_state_->queries.fetch_add(1, std::memory_order_relaxed);
    auto decision = tenant_state_->bucket.take(routing::TokenBucket::Clock::now());
    throttle = std::max(throttle, decision.delay);
    if (!decision.allowed) {
      tenant_state_->rate_limited.fetch_add(1, std::memory_order_relaxed);
      reject_over_rate(type, raw.subspan(5), out, expect_);
      rejected = true;
    }
  }
  if (!rejected && !rewriter.add(type, raw.subspan(5), raw, out, expect_, &error,
                                 command ? &*command : nullptr, &bound)) {
    log_event(spdlog::level::warn, "client protocol error", &log_, {{"reason", error}});
    return Added::kProtocolError;
  }
  if (type == protocol::fe::kBind) {
    if (!bound && unnamed_command_) {
      protocol::Reader br(raw.subspan(5));
      br.cstr();
      if (br.cstr().empty()) bound = &*unnamed_command_;
    }
    if (bound) schedule_switch(*bound);
  }
  return Added::kAdded;
}

bool ClientSession::absorb_prefix_response(char type, protocol::ByteSpan body, int& remaining) {
  if (type == protocol::be::kCommandComplete) {
    --remaining;
  } else if (type == protocol::be::kParameterStatus) {
    if (auto p = protocol::decode_parameter_status(body)) {
      server_->set_parameter(p->first, p->second);
      // A value the client was not told yet (its RESET went to the server's default and
      // the prefix set its startup value again): forwarded, as PostgreSQL would report it.
      std::string key = routing::setting_key(p->first);
      auto seen = client_seen_.find(key);
      if (seen != client_seen_.end() && seen->second != p->second) {
        seen->second = p->second;
        protocol::encode_parameter_status(prefix_reports_, p->first, p->second);
      }
    }
  } else if (type == protocol::be::kErrorResponse) {
    auto fields = protocol::decode_error_fields(body);
    context_error_ = fields ? fields->message() : "malformed error";
    return false;
  }
  return true;
}

void ClientSession::observe_server_message(char type, protocol::ByteSpan body) {
  track_search_path(type, body);
  track_settings(type, body);
  switch (type) {
    case protocol::be::kReadyForQuery:
      if (body.size() == 1) {
        status_ = static_cast<char>(body[0]);
        finish_request();
      }
      break;
    case protocol::be::kErrorResponse:
      if (tenant_state_) {
        auto fields = protocol::decode_error_fields(body);
        tenant_state_->count_error(fields ? fields->sqlstate() : "XX");
      }
      break;
    case protocol::be::kParameterStatus:
      if (auto p = protocol::decode_parameter_status(body))
        server_->set_parameter(p->first, p->second);
      break;
    case protocol::be::kCommandComplete:
      if (auto tag = protocol::decode_command_complete(body)) {
        if (resets_session_state(*tag)) state_dirty_ = true;
        if (*tag == "DISCARD ALL" || *tag == "DEALLOCATE ALL") {
          server_->prepared.clear();
          statements_.clear();  // as in PostgreSQL: all of the client's statements are gone
          unnamed_command_.reset();
        } else if (*tag == "DEALLOCATE" && !session_mode()) {
          // A DEALLOCATE may have removed a statement other clients of the pool share. In
          // session mode the connection is this client's alone: it keeps it.
          discard_after_ = true;
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace shardgate::proxy
