// Parking idle clients. Most clients of a pooler are idle most of the time; a parked one
// costs its session object and its socket: no coroutine frames, no read buffer, no
// per-request queues. Busy clients are never parked (no cost per transaction): only a
// session suspended in its between-messages read, with nothing buffered, no server
// connection attached and a client quiet for kParkAfter.
#include <chrono>

#include "proxy/session/client_session.h"

namespace shardgate::proxy {

namespace {
constexpr std::chrono::seconds kParkAfter{1};
}  // namespace

bool ClientSession::park_if_idle(std::chrono::steady_clock::time_point now) {
  if (!reading_idle_ || park_requested_ || !client_buf_.empty() || server_ || client_.tls() ||
      shutdown_requested_ || idle_expired_ != IdleExpiry::kNone ||
      now - last_activity_ < kParkAfter)
    return false;
  park_requested_ = true;
  error_code ignored;
  client_.cancel(ignored);  // head_message's read ends with operation_aborted and parks
  return true;
}

void ClientSession::park() {
  park_requested_ = false;
  parked_ = true;
  client_buf_.release();
  expect_.release_if_empty();
  request_timing_.release_if_empty();
}

}  // namespace shardgate::proxy
