// How many server connections of a pool may be busy before a tenant's one-statement request
// queues on a busy connection of its tenant (pipelining) instead of taking another one.
//
// Each request a connection carries costs the server a wake-up and both sides a send and a
// receive; requests queued on one connection share them. While the shard has cores to spare,
// more busy connections finish more work; once it is saturated they only add wake-ups and
// context switches, and the same work done on fewer connections is faster and cheaper. The
// proxy cannot see the shard's cores, so it measures: while the target holds requests back
// (they queue on busy connections), it moves the target a step at a time and keeps a step
// only if the pool's throughput (answered requests per second) did not fall. Lower is kept
// while throughput holds, so a saturated shard ends up with a few busy, deep connections; a
// shard that needs the parallelism (slow statements, many cores, I/O) pushes it back up.
// A probe that failed is not repeated until requests hold their connections clearly longer
// than they did there (busy connections / throughput, Little's law): that time grows with
// busy connections only on a saturated shard, so a pool waiting on I/O is probed once, not
// every few seconds. Without pressure the target drifts back to the pool size (the classic
// rule: queue only on an exhausted pool).
//
// Pure: the caller passes the time and counts; tests/unit/pool_concurrency_target_test.cc
// drives it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

namespace shardgate::pool {

class ConcurrencyTarget {
 public:
  using Clock = std::chrono::steady_clock;
  // A measurement lasts this long and covers at least kMinAnswers answers.
  static constexpr Clock::duration kWindow = std::chrono::milliseconds(250);
  static constexpr uint64_t kMinAnswers = 64;
  // A window "pressed" the target when at least one in kPressedShare answers had queued.
  static constexpr uint64_t kPressedShare = 100;
  // A step "held" throughput when its window is within kTolerance of the window before and
  // within kDriftTolerance of the best recent one.
  static constexpr double kTolerance = 0.05;
  static constexpr double kDriftTolerance = 0.15;
  // The best recent throughput forgets this much per window, so a fall in demand is not
  // taken for a too-low target for long.
  static constexpr double kBestDecay = 0.98;
  static constexpr int kFloor = 2;
  // Probe down again once the per-request time exceeds this multiple of the unsaturated one.
  static constexpr double kSaturated = 1.5;
  // Throughput this many times above or below the best recent window: another load.
  static constexpr double kAnotherLoad = 1.6;

  explicit ConcurrencyTarget(int size) : size_(std::max(1, size)), limit_(size_) {}

  int limit() const { return limit_; }

  // After a reload: a new pool size. The target stays where it was, under the new size.
  void resize(int size) {
    size_ = std::max(1, size);
    limit_ = std::min(limit_, size_);
  }

  // A request queued on a busy connection.
  void queued() { ++pressed_; }

  // A request was answered (its connection returned to the pool or passed down).
  // `busy`: the pool's busy connections at that moment.
  void answered(Clock::time_point now, int busy) {
    if (answers_++ == 0) window_start_ = now;  // a window starts at its first answer
    busy_sum_ += static_cast<uint64_t>(std::max(0, busy));
    if (now - window_start_ < kWindow || answers_ < kMinAnswers) return;
    double seconds = std::chrono::duration<double>(now - window_start_).count();
    double throughput = static_cast<double>(answers_) / seconds;
    step(throughput, static_cast<double>(busy_sum_) / static_cast<double>(answers_) / throughput);
    window_start_ = now;
    answers_ = 0;
    pressed_ = 0;
    busy_sum_ = 0;
  }

 private:
  // `per_request`: busy connections / throughput, the time one request holds a connection
  // (Little's law). It grows with busy connections only while the shard is saturated.
  void step(double throughput, double per_request) {
    bool pressed = pressed_ * kPressedShare >= answers_;
    if (!pressed || size_ <= kFloor) {
      // Nothing was held back: the target is not what limits this pool. Back to the size,
      // a step at a time, and forget the measurements (demand may differ next time).
      limit_ = std::min(size_, limit_ + up_stride());
      forget();
      return;
    }
    if (settling_) {  // the window after a step mixes before and after: not a measurement
      settling_ = false;
      return;
    }
    // (A window right after a step measures the step, which judge() weighs instead.)
    bool stepped = std::exchange(stepped_, false);
    if (!stepped && best_ > 0 &&
        (throughput < best_ / kAnotherLoad || throughput > best_ * kAnotherLoad)) {
      // Another load altogether (slower statements, more clients): measure again from the
      // size, where a load that needs its connections has them.
      forget();
      limit_ = size_;
      return;
    }
    best_ = std::max(throughput, best_ * kBestDecay);
    if (previous_ > 0 && !judge(throughput, per_request)) {
      previous_ = throughput;
      return;
    }
    previous_ = throughput;
    int next = std::clamp(down_ ? limit_ - down_stride() : limit_ + up_stride(), kFloor, size_);
    settling_ = stepped_ = next != limit_;
    limit_ = next;
  }

  void forget() {
    best_ = previous_ = 0;
    down_ = true;
    unsaturated_ = 0;
    settling_ = stepped_ = false;
  }

  // Decides the next step's direction from the window after the last step; false: stay.
  bool judge(double throughput, double per_request) {
    // Measured against the window before (a window's noise is about as likely up as down)
    // and, going down, more loosely against the best recent one (small losses add up).
    bool fell = throughput < previous_ * (1 - kTolerance);
    if (down_) {
      if (fell || throughput < best_ * (1 - kDriftTolerance)) {
        // Fewer connections cost throughput: give some back. The next probe down waits until
        // requests hold their connections clearly longer than here (below), so a shard that
        // needs its connections pays for one probe, not one every other window.
        down_ = false;
        unsaturated_ = per_request;  // what a request costs where the shard has room
      }
      return true;
    }
    if (fell) {
      down_ = true;  // more connections cost throughput: back down
      return true;
    }
    if (throughput > previous_ * (1 + kTolerance)) return true;  // more bought more: go on
    // More bought nothing. Probe down again only if requests now hold their connections
    // clearly longer than where fewer connections last cost throughput: a saturated shard
    // (requests wait for its CPU). A shard that needs its connections (statements waiting on
    // I/O) shows no such growth and is not probed again.
    // Requests much quicker than that: another load, which may saturate the shard; measure.
    if (per_request < unsaturated_ / kSaturated) unsaturated_ = 0;
    if (unsaturated_ > 0 && per_request <= unsaturated_ * kSaturated) return false;
    down_ = true;
    return true;
  }

  // Down by a fifth, up by half: a target too low costs throughput, one too high only CPU.
  int down_stride() const { return std::max(1, limit_ / 5); }
  int up_stride() const { return std::max(1, limit_ / 2); }

  int size_;
  int limit_;
  bool down_ = true;
  bool settling_ = false;
  bool stepped_ = false;
  double unsaturated_ = 0;  // per-request time where the last probe down cost throughput
  uint64_t busy_sum_ = 0;
  double best_ = 0;
  double previous_ = 0;
  uint64_t answers_ = 0;
  uint64_t pressed_ = 0;
  Clock::time_point window_start_{};
};

}  // namespace shardgate::pool
