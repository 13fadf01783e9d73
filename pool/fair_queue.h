// Waiting clients of one pool, served round robin by tenant and weighted by tier: a tenant
// with `weight` w is served up to w times per turn. A tenant with 500 waiters cannot starve
// a tenant with one. Pure (no I/O); T is any type with `std::string tenant` and `int weight`.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <string_view>

namespace shardgate::pool {

template <typename T>
class FairQueue {
 public:
  void push(T* waiter) {
    for (auto& lane : lanes_) {
      if (lane.tenant == waiter->tenant) {
        lane.waiters.push_back(waiter);
        ++size_;
        return;
      }
    }
    // A new tenant joins the ring just before the cursor: it is served after those already
    // waiting in this turn, never ahead of them.
    lanes_.insert(cursor_, Lane{waiter->tenant, {waiter}, 0});
    if (cursor_ == lanes_.end()) cursor_ = lanes_.begin();
    ++size_;
  }

  // The next waiter whose tenant `eligible` accepts (e.g. under its connection cap), or null.
  T* pop(const std::function<bool(std::string_view)>& eligible = {}) {
    if (lanes_.empty()) return nullptr;
    if (cursor_ == lanes_.end()) cursor_ = lanes_.begin();
    auto start = cursor_;
    do {
      Lane& lane = *cursor_;
      if (!eligible || eligible(lane.tenant)) {
        T* w = lane.waiters.front();
        lane.waiters.pop_front();
        --size_;
        ++lane.served;
        int weight = w->weight > 0 ? w->weight : 1;
        if (lane.waiters.empty()) {
          cursor_ = lanes_.erase(cursor_);
        } else if (lane.served >= weight) {
          lane.served = 0;
          ++cursor_;
        }
        if (cursor_ == lanes_.end()) cursor_ = lanes_.begin();
        return w;
      }
      ++cursor_;
      if (cursor_ == lanes_.end()) cursor_ = lanes_.begin();
    } while (cursor_ != start);
    return nullptr;
  }

  // Removes a waiter that gave up (timeout, disconnect). Returns whether it was queued.
  bool remove(T* waiter) {
    for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
      if (it->tenant != waiter->tenant) continue;
      for (auto w = it->waiters.begin(); w != it->waiters.end(); ++w) {
        if (*w != waiter) continue;
        it->waiters.erase(w);
        --size_;
        if (it->waiters.empty()) {
          bool at_cursor = it == cursor_;
          auto next = lanes_.erase(it);
          if (at_cursor) cursor_ = next;
        }
        if (cursor_ == lanes_.end()) cursor_ = lanes_.begin();
        return true;
      }
      return false;
    }
    return false;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t tenants() const { return lanes_.size(); }
  // Everyone waiting is of `tenant` (false when nobody waits).
  bool only_tenant(std::string_view tenant) const {
    return lanes_.size() == 1 && lanes_.front().tenant == tenant;
  }

 private:
  struct Lane {
    std::string tenant;
    std::deque<T*> waiters;
    int served = 0;
  };
  std::list<Lane> lanes_;
  typename std::list<Lane>::iterator cursor_ = lanes_.end();
  size_t size_ = 0;
};

}  // namespace shardgate::pool
