// Bounded LRU cache: statement text -> what inspect_statement() found, so repeated and
// prepared statements cost one hash lookup instead of a parse. The result depends on the
// text alone (not on the tenant), so one cache serves every tenant of a worker.
// NOT thread-safe: keep one per worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {

class StatementCache {
 public:
  static constexpr size_t kDefaultCapacity = 10000;
  static constexpr size_t kDefaultMaxBytes = 64u << 20;  // texts + results
  // Texts longer than this are inspected every time and never cached: one would evict many.
  static constexpr size_t kMaxCachedTextBytes = 256u << 10;

  // capacity: most entries kept; max_bytes: most bytes of texts and results kept.
  explicit StatementCache(size_t capacity = kDefaultCapacity, size_t max_bytes = kDefaultMaxBytes);
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The inspection of `sql`: cached (a hit moves it to the front), or parsed now and cached,
  // evicting the least recently used entries beyond the bounds. Never null. The result stays
  // valid after eviction for as long as the caller holds it.
  std::shared_ptr<const StatementInfo> get(std::string_view sql);

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }
  void clear();

 private:
  struct Entry {
    std::string text;
    std::shared_ptr<const StatementInfo> info;
    size_t bytes = 0;
  };
  using List = std::list<Entry>;

  void evict_to_fit();

  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
  List entries_;  // most recently used first
  // Keys view the texts owned by entries_ (list nodes never move).
  absl::flat_hash_map<std::string_view, List::iterator> index_;
};

}  // namespace shardgate::routing
