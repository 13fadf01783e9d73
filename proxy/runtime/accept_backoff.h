// Accepting with backoff. When accept() fails (EMFILE/ENFILE once the open-file limit is
// reached) the listening socket stays readable, so retrying at once would spin and log a line
// per attempt: instead each failure waits 50 ms, and a run of failures is logged as one burst,
// when it starts, once a minute while it lasts, and when accepting works again.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include "pool/asio.h"
#include "proxy/runtime/log.h"

namespace shardgate::proxy {

class AcceptFailures {
 public:
  explicit AcceptFailures(const char* listener) : listener_(listener) {}

  void failed(const error_code& ec) {
    auto now = std::chrono::steady_clock::now();
    ++count_;
    if (count_ == 1) {
      started_ = last_log_ = now;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE)
        log_event(spdlog::level::warn, "accept failing: retrying every 50 ms", nullptr,
                  {{"listener", listener_},
                   {"error", ec.message()},
                   {"hint",
                    "the open-file limit is reached: new clients wait in the listen backlog "
                    "until connections close"}});
      else
        log_event(spdlog::level::warn, "accept failing: retrying every 50 ms", nullptr,
                  {{"listener", listener_}, {"error", ec.message()}});
    } else if (now - last_log_ >= std::chrono::minutes(1)) {
      last_log_ = now;
      log_event(spdlog::level::warn, "accept still failing", nullptr,
                {{"listener", listener_},
                 {"error", ec.message()},
                 {"failed_attempts", std::to_string(count_)},
                 {"seconds", std::to_string(seconds())}});
    }
  }

  void succeeded() {
    if (count_ == 0) return;
    log_event(spdlog::level::info, "accept recovered", nullptr,
              {{"listener", listener_},
               {"failed_attempts", std::to_string(count_)},
               {"seconds", std::to_string(seconds())}});
    count_ = 0;
  }

 private:
  int64_t seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            started_)
        .count();
  }

  const char* listener_;
  uint64_t count_ = 0;
  std::chrono::steady_clock::time_point started_, last_log_;
};

// Accepts until the acceptor closes, calling on_socket(socket, peer) for each connection:
// accept() reports the peer's address, so nobody asks the socket for it again.
template <class Acceptor, class OnSocket>
awaitable<void> accept_each(Acceptor& acceptor, const char* listener, OnSocket on_socket) {
  AcceptFailures failures(listener);
  for (;;) {
    typename Acceptor::endpoint_type peer;
    auto [ec, socket] = co_await acceptor.async_accept(peer, use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      failures.failed(ec);
      asio::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_nothrow);
      continue;
    }
    failures.succeeded();
    on_socket(std::move(socket), peer);
  }
}

}  // namespace shardgate::proxy
