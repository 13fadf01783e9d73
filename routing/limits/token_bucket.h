// A per-tenant token bucket shared by all of a tenant's connections on every worker. Its lock
// is the tenant's own (held for a few arithmetic operations), never a global one.
#pragma once

#include <chrono>
#include <mutex>

namespace shardgate::routing {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = true;
    Clock::duration delay{0};  // throttle: wait this long before running the statement
  };

  // rate <= 0 means unlimited. burst <= 0 means burst = rate (at least 1 token).
  void configure(double rate, double burst, bool throttle, Clock::duration max_delay);

  // Takes one token at `now`. Reject mode: allowed only with a token in hand. Throttle mode:
  // borrows against the future up to max_delay (the caller waits `delay`), else refuses.
  Decision take(Clock::time_point now);

  double rate() const;

 private:
  mutable std::mutex mu_;
  double rate_ = 0;
  double burst_ = 0;
  bool throttle_ = false;
  double max_delay_s_ = 0;
  double tokens_ = 0;
  Clock::time_point last_{};
  bool started_ = false;
};

}  // namespace shardgate::routing
