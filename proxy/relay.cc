// Session-mode relay: bytes flow both ways as they arrive; the scanner watches message
// boundaries for Terminate, request/ReadyForQuery accounting and transaction status.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/client_session.h"
#include "proxy/stream_scanner.h"

namespace shardgate::proxy {

namespace {

using namespace asio::experimental::awaitable_operators;

enum class RelayEnd { kNone, kClientGone, kClientTerminated, kClientProtocolError, kServerGone, kServerProtocolError, kShutdown };

// Reads whatever is available into `buf`; false on EOF or error.
awaitable<bool> fill(tcp::socket& socket, ReadBuffer& buf) {
  auto space = buf.prepare(16 * 1024);
  auto [ec, n] = co_await socket.async_read_some(asio::buffer(space.data(), space.size()), use_nothrow);
  if (ec) co_return false;
  buf.commit(n);
  co_return true;
}

}  // namespace

void ClientSession::request_shutdown() {
  shutdown_requested_ = true;
  error_code ignored;
  if (!server_) {
    client_.cancel(ignored);  // idle between transactions: wake the read, say goodbye
  } else if (pending_ == 0 && status_ == 'I' && shutdown_signal_) {
    shutdown_signal_->cancel();
  }
}

void ClientSession::force_close() {
  error_code ignored;
  client_.cancel(ignored);
  client_.close(ignored);
  if (server_) server_->close();
}

awaitable<void> ClientSession::relay() {
  shutdown_signal_.emplace(client_.get_executor(), asio::steady_timer::time_point::max());
  RelayEnd end = RelayEnd::kNone;
  tcp::socket& server = server_->socket();
  // The first branch to end decides why the relay ended; the others only see cancellation.
  auto finish = [&end](RelayEnd why) {
    if (end == RelayEnd::kNone) end = why;
  };
  ReadBuffer& server_buf = server_->buffer();

  auto client_to_server = [&]() -> awaitable<void> {
    StreamScanner scanner;
    for (;;) {
      auto r = scanner.scan(client_buf_.data(), [&](char type, protocol::ByteSpan, bool) {
        if (type == protocol::fe::kTerminate) return ScanAction::kStopBefore;
        if (type == protocol::fe::kQuery || type == protocol::fe::kSync ||
            type == protocol::fe::kFunctionCall)
          ++pending_;
        return ScanAction::kContinue;
      });
      if (r.error) {
        finish(RelayEnd::kClientProtocolError);
        co_return;
      }
      if (r.forward > 0) {
        if (co_await write_bytes(server, client_buf_.data().first(r.forward))) {
          finish(RelayEnd::kServerGone);
          co_return;
        }
        client_buf_.consume(r.forward);
        client_buf_.shrink_if_idle(64 * 1024);
      }
      if (r.stopped) {
        finish(RelayEnd::kClientTerminated);
        co_return;
      }
      bool got_data = co_await fill(client_, client_buf_);
      if (!got_data) {
        finish(RelayEnd::kClientGone);
        co_return;
      }
    }
  };

  auto server_to_client = [&]() -> awaitable<void> {
    StreamScanner scanner;
    for (;;) {
      auto r = scanner.scan(server_buf.data(), [&](char type, protocol::ByteSpan body, bool whole) {
        if (type == protocol::be::kReadyForQuery && whole && body.size() == 1) {
          if (pending_ > 0) --pending_;
          status_ = static_cast<char>(body[0]);
        } else if (type == protocol::be::kParameterStatus && whole) {
          if (auto p = protocol::decode_parameter_status(body)) server_->set_parameter(p->first, p->second);
        }
        return ScanAction::kContinue;
      });
      if (r.error) {
        finish(RelayEnd::kServerProtocolError);
        co_return;
      }
      if (r.forward > 0) {
        if (co_await write_bytes(client_, server_buf.data().first(r.forward))) {
          finish(RelayEnd::kClientGone);
          co_return;
        }
        server_buf.consume(r.forward);
        server_buf.shrink_if_idle(64 * 1024);
      }
      if (shutdown_requested_ && pending_ == 0 && status_ == 'I') {
        finish(RelayEnd::kShutdown);
        co_return;
      }
      bool got_data = co_await fill(server, server_buf);
      if (!got_data) {
        finish(RelayEnd::kServerGone);
        co_return;
      }
    }
  };

  auto wait_shutdown = [&]() -> awaitable<void> {
    co_await shutdown_signal_->async_wait(use_nothrow);
    finish(RelayEnd::kShutdown);
  };

  if (!shutdown_requested_) co_await (client_to_server() || server_to_client() || wait_shutdown());
  else
    finish(RelayEnd::kShutdown);
  shutdown_signal_.reset();

  protocol::Bytes out;
  switch (end) {
    case RelayEnd::kClientGone:
    case RelayEnd::kClientTerminated:
      // A client that leaves mid-query must not leave the query running on the shard.
      if (pending_ > 0) co_await pool::send_cancel(server_->cancel_target());
      break;
    case RelayEnd::kClientProtocolError:
      protocol::encode_error(out, "FATAL", "08P01", "invalid message framing from client");
      co_await pool::send_cancel(server_->cancel_target());
      break;
    case RelayEnd::kServerGone:
    case RelayEnd::kServerProtocolError:
      protocol::encode_error(out, "FATAL", "08006",
                             "lost the connection to shard \"" + log_.shard + "\" serving tenant \"" +
                                 log_.tenant + "\"",
                             "Reconnect; the shard may be restarting.");
      log_event(spdlog::level::warn, "shard connection lost", &log_);
      break;
    case RelayEnd::kShutdown:
      protocol::encode_error(out, "FATAL", "57P01",
                             "terminating connection because shardgate is shutting down",
                             "Reconnect to another shardgate instance or retry shortly.");
      break;
    case RelayEnd::kNone:
      break;
  }
  if (!out.empty() && client_.is_open()) co_await write_bytes(client_, out);
  if (end == RelayEnd::kServerGone || end == RelayEnd::kServerProtocolError ||
      end == RelayEnd::kClientProtocolError || pending_ > 0)
    server_->close();
}

}  // namespace shardgate::proxy
