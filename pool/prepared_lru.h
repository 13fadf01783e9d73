// The proxy-wide prepared statement names one server connection has prepared, least
// recently used first out. Pure.
#pragma once

#include <list>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace shardgate::pool {

class PreparedLru {
 public:
  explicit PreparedLru(size_t capacity = 256) : capacity_(capacity) {}

  bool contains(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return false;
    order_.splice(order_.end(), order_, it->second);  // mark as recently used
    return true;
  }
  // Adds a name; returns the name evicted to make room, if any (the caller Closes it).
  std::optional<std::string> add(const std::string& name) {
    if (contains(name)) return std::nullopt;
    std::optional<std::string> evicted;
    if (capacity_ > 0 && order_.size() >= capacity_) {
      evicted = std::move(order_.front());
      index_.erase(*evicted);
      order_.pop_front();
    }
    order_.push_back(name);
    index_[name] = std::prev(order_.end());
    return evicted;
  }
  void erase(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  void clear() {
    order_.clear();
    index_.clear();
  }
  size_t size() const { return order_.size(); }

 private:
  size_t capacity_;
  std::list<std::string> order_;
  absl::flat_hash_map<std::string, std::list<std::string>::iterator> index_;
};

}  // namespace shardgate::pool
