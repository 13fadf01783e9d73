#include "routing/limits/token_bucket.h"

#include <algorithm>

namespace shardgate::routing {

void TokenBucket::configure(double rate, double burst, bool throttle, Clock::duration max_delay) {
  std::lock_guard lock(mu_);
  bool changed = rate != rate_ || burst != burst_;
  rate_ = rate;
  burst_ = burst > 0 ? burst : std::max(rate, 1.0);
  throttle_ = throttle;
  max_delay_s_ = std::chrono::duration<double>(max_delay).count();
  if (!started_ || changed) tokens_ = std::min(started_ ? tokens_ : burst_, burst_);
}

double TokenBucket::rate() const {
  std::lock_guard lock(mu_);
  return rate_;
}

TokenBucket::Decision TokenBucket::take(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (rate_ <= 0) return {};
  if (!started_) {
    started_ = true;
    tokens_ = burst_;
    last_ = now;
  }
  double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return {};
  }
  if (!throttle_) return {false, {}};
  double wait_s = (1 - tokens_) / rate_;
  if (wait_s > max_delay_s_) return {false, {}};
  tokens_ -= 1;  // borrowed: paid back by the refill while the caller waits
  return {true, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s))};
}

}  // namespace shardgate::routing
