#include "proxy/session/login_deadline.h"

#include <sys/socket.h>

#include <string>

#include "protocol/messages.h"

namespace shardgate::proxy {

namespace {

std::string duration_text(config::Duration d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

LoginDeadline::LoginDeadline(tcp::socket& socket, config::Duration timeout, const LogContext& log)
    : timer_(socket.get_executor()) {
  if (timeout.count() <= 0) return;
  timer_.expires_after(timeout);
  // Runs on the session's worker, like the session's own startup code; `done` is set before
  // that code ends or hands the session to another worker, so a handler that finds it unset
  // may touch the socket.
  timer_.async_wait([state = state_, &socket, &log, timeout](error_code ec) {
    if (ec || state->done) return;
    state->expired = true;
    log_event(spdlog::level::info, "client login timed out: closing the connection", &log,
              {{"client_login_timeout", duration_text(timeout)}});
    protocol::Bytes out;
    protocol::encode_error(out, "FATAL", "08P01",
                           "client_login_timeout (" + duration_text(timeout) +
                               ") expired before startup and authentication finished",
                           {});
    // Best effort and never blocking: the client may not be reading at all.
    (void)::send(socket.native_handle(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.cancel(ignored);
  });
}

LoginDeadline::~LoginDeadline() {
  state_->done = true;
  timer_.cancel();
}

}  // namespace shardgate::proxy
