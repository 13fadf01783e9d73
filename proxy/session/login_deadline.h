// client_login_timeout: a client that has not sent its startup packet, finished encryption
// negotiation and authenticated within the timeout is told so (FATAL 08P01, best effort) and
// its connection is shut down, so the read the session is waiting in ends. Without it a
// client that connects and stalls holds a descriptor and a slot of max_client_conn forever.
#pragma once

#include <memory>

#include "config/config.h"
#include "pool/asio.h"
#include "proxy/runtime/log.h"

namespace shardgate::proxy {

class LoginDeadline {
 public:
  // Arms the deadline; a zero timeout never fires. `socket` and `log` must outlive it (they
  // are the session's, and the deadline lives in the session's startup coroutine).
  LoginDeadline(tcp::socket& socket, config::Duration timeout, const LogContext& log);
  // Disarms: the login is over (done or failed) and the session goes on without a deadline.
  ~LoginDeadline();
  LoginDeadline(const LoginDeadline&) = delete;
  LoginDeadline& operator=(const LoginDeadline&) = delete;

  bool expired() const { return state_->expired; }

 private:
  // Shared with the timer's handler, which may run after the deadline is gone.
  struct State {
    bool done = false;
    bool expired = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  asio::steady_timer timer_;
};

}  // namespace shardgate::proxy
