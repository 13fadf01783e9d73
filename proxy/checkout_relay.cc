// Transaction mode: one checkout of a server connection, from the client's first message of
// a transaction to the server's ReadyForQuery 'I' with nothing else outstanding.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/client_session.h"
#include "proxy/context_prefix.h"
#include "proxy/stream_scanner.h"

namespace shardgate::proxy {

namespace {

using namespace asio::experimental::awaitable_operators;

awaitable<bool> fill_some(tcp::socket& socket, ReadBuffer& buf) {
  auto space = buf.prepare(16 * 1024);
  auto [ec, n] = co_await socket.async_read_some(asio::buffer(space.data(), space.size()), use_nothrow);
  if (ec) co_return false;
  buf.commit(n);
  co_return true;
}

// Command tags after which the server's session state may no longer be what shardgate set.
bool resets_session_state(std::string_view tag) {
  return tag == "SET" || tag == "RESET" || tag.starts_with("DISCARD");
}

}  // namespace

awaitable<ClientSession::CheckoutEnd> ClientSession::run_checkout(const ContextPrefix& prefix) {
  std::optional<CheckoutEnd> end;
  auto finish = [&end](CheckoutEnd why) {
    if (!end) end = why;
  };
  tcp::socket& server = server_->socket();
  ReadBuffer& server_buf = server_->buffer();
  auto executor = client_.get_executor();
  pending_ = 0;
  unsynced_ = false;
  status_ = 'I';
  bool hold = !prefix.empty();  // until the context is confirmed, forward one request only
  bool context_failed = false;
  bool state_dirty = false;
  std::string context_error;
  asio::steady_timer confirmed(executor, asio::steady_timer::time_point::max());
  shutdown_signal_.emplace(executor, asio::steady_timer::time_point::max());

  auto client_to_server = [&]() -> awaitable<void> {
    StreamScanner scanner;
    bool first = true;
    for (;;) {
      bool terminated = false;
      auto r = scanner.scan(client_buf_.data(), [&](char type, protocol::ByteSpan, bool) {
        switch (type) {
          case protocol::fe::kTerminate:
            terminated = true;
            return ScanAction::kStopBefore;
          case protocol::fe::kQuery:
          case protocol::fe::kFunctionCall:
            ++pending_;
            return hold ? ScanAction::kStopAfter : ScanAction::kContinue;
          case protocol::fe::kSync:
            ++pending_;
            unsynced_ = false;
            return hold ? ScanAction::kStopAfter : ScanAction::kContinue;
          case protocol::fe::kParse:
          case protocol::fe::kBind:
          case protocol::fe::kDescribe:
          case protocol::fe::kExecute:
          case protocol::fe::kClose:
            unsynced_ = true;
            return ScanAction::kContinue;
          default:
            return ScanAction::kContinue;
        }
      });
      if (r.error) {
        finish(CheckoutEnd::kProtocolError);
        co_return;
      }
      if (first && !prefix.empty()) {
        protocol::Bytes out(prefix.bytes);
        auto fwd = client_buf_.data().first(r.forward);
        out.insert(out.end(), fwd.begin(), fwd.end());
        if (co_await write_bytes(server, out)) {
          finish(CheckoutEnd::kServerGone);
          co_return;
        }
      } else if (r.forward > 0) {
        if (co_await write_bytes(server, client_buf_.data().first(r.forward))) {
          finish(CheckoutEnd::kServerGone);
          co_return;
        }
      }
      first = false;
      client_buf_.consume(r.forward);
      client_buf_.shrink_if_idle(64 * 1024);
      if (terminated) {
        finish(CheckoutEnd::kClientTerminated);
        co_return;
      }
      if (r.stopped && hold) {
        co_await confirmed.async_wait(use_nothrow);
        if (context_failed || end) co_return;
        continue;
      }
      bool got_data = co_await fill_some(client_, client_buf_);
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
      if (frame.type == protocol::be::kCommandComplete) {
        --remaining;
      } else if (frame.type == protocol::be::kParameterStatus) {
        if (auto p = protocol::decode_parameter_status(frame.body)) server_->set_parameter(p->first, p->second);
      } else if (frame.type == protocol::be::kErrorResponse) {
        auto fields = protocol::decode_error_fields(frame.body);
        context_error = fields ? fields->message() : "malformed error";
        context_failed = true;
      }
      server_buf.consume(frame.size);
      if (context_failed) break;
    }
    if (context_failed) {
      confirmed.cancel();
      finish(CheckoutEnd::kContextFailed);
      co_return;
    }
    if (!prefix.empty()) server_->context_tenant = route_->tenant;
    hold = false;
    confirmed.cancel();

    // Phase 2: relay until the transaction is over.
    StreamScanner scanner;
    for (;;) {
      auto r = scanner.scan(server_buf.data(), [&](char type, protocol::ByteSpan body, bool whole) {
        if (!whole) return ScanAction::kContinue;
        switch (type) {
          case protocol::be::kReadyForQuery:
            if (body.size() == 1) {
              if (pending_ > 0) --pending_;
              status_ = static_cast<char>(body[0]);
            }
            break;
          case protocol::be::kParameterStatus:
            if (auto p = protocol::decode_parameter_status(body)) {
              server_->set_parameter(p->first, p->second);
              for (auto& kv : client_params_)
                if (kv.first == p->first) kv.second = p->second;
            }
            break;
          case protocol::be::kCommandComplete:
            if (auto tag = protocol::decode_command_complete(body); tag && resets_session_state(*tag))
              state_dirty = true;
            break;
          default:
            break;
        }
        return ScanAction::kContinue;
      });
      if (r.error) {
        finish(CheckoutEnd::kServerGone);
        co_return;
      }
      if (r.forward > 0) {
        if (co_await write_bytes(client_, server_buf.data().first(r.forward))) {
          finish(CheckoutEnd::kClientGone);
          co_return;
        }
        server_buf.consume(r.forward);
        server_buf.shrink_if_idle(64 * 1024);
      }
      if (pending_ == 0 && !unsynced_ && status_ == 'I' && server_buf.empty()) {
        finish(shutdown_requested_ ? CheckoutEnd::kShutdown : CheckoutEnd::kReleased);
        co_return;
      }
      bool got_data = co_await fill_some(server, server_buf);
      if (!got_data) {
        finish(CheckoutEnd::kServerGone);
        co_return;
      }
    }
  };

  co_await (client_to_server() || server_to_client());
  shutdown_signal_.reset();
  if (state_dirty) server_->context_tenant.clear();

  protocol::Bytes out;
  if (*end == CheckoutEnd::kContextFailed) {
    log_event(spdlog::level::err, "could not set tenant context", &log_, {{"reason", context_error}});
    protocol::encode_error(out, "ERROR", "08006",
                           "could not set the context of tenant \"" + route_->tenant +
                               "\" on shard \"" + route_->placement.shard + "\": " + context_error,
                           "Check the tier's role and the tenant's schema on the shard.");
    if (pending_ > 0) protocol::encode_ready_for_query(out, 'I');
    else skip_to_sync_ = unsynced_;
  } else if (*end == CheckoutEnd::kServerGone) {
    log_event(spdlog::level::warn, "shard connection lost", &log_);
    protocol::encode_error(out, "ERROR", "08006",
                           "lost the connection to shard \"" + route_->placement.shard +
                               "\" serving tenant \"" + route_->tenant + "\"",
                           "Retry the transaction; the shard may be restarting.");
    if (pending_ > 0) protocol::encode_ready_for_query(out, 'I');
    else skip_to_sync_ = unsynced_;
  }
  if (!out.empty()) {
    pending_ = 0;
    unsynced_ = false;
    status_ = 'I';
    co_await write_bytes(client_, out);
  }
  co_return *end;
}

}  // namespace shardgate::proxy
