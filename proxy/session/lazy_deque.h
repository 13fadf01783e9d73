// A std::deque that exists only while it is used: libstdc++'s deque allocates its map and a
// 512-byte node even when empty, which an idle client should not pay for. Passes as a
// std::deque<T>& wherever one is expected (creating it then).
#pragma once

#include <deque>
#include <memory>
#include <utility>

namespace shardgate::proxy {

template <typename T>
class LazyDeque {
 public:
  std::deque<T>& get() {
    if (!q_) q_ = std::make_unique<std::deque<T>>();
    return *q_;
  }
  operator std::deque<T>&() { return get(); }  // NOLINT(google-explicit-constructor)

  bool empty() const { return !q_ || q_->empty(); }
  void clear() {
    if (q_) q_->clear();
  }
  // Gives the storage back (the session went idle).
  void release_if_empty() {
    if (q_ && q_->empty()) q_.reset();
  }
  void push_back(T value) { get().push_back(std::move(value)); }
  T& front() { return q_->front(); }
  T& back() { return q_->back(); }
  void pop_front() { q_->pop_front(); }

 private:
  std::unique_ptr<std::deque<T>> q_;
};

}  // namespace shardgate::proxy
