#include "routing/guard/statement_cache.h"

#include <algorithm>

namespace shardgate::routing {

StatementCache::StatementCache(size_t capacity, size_t max_bytes)
    : capacity_(std::max<size_t>(capacity, 1)), max_bytes_(max_bytes) {
  index_.reserve(std::min<size_t>(capacity_, 1024));
}

std::shared_ptr<const StatementInfo> StatementCache::get(std::string_view sql) {
  if (auto it = index_.find(sql); it != index_.end()) {
    ++hits_;
    if (it->second != entries_.begin()) entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->info;
  }
  ++misses_;
  auto info = std::make_shared<const StatementInfo>(inspect_statement(sql));
  if (sql.size() > kMaxCachedTextBytes) return info;
  size_t entry_bytes = sql.size() + info->memory_bytes() + sizeof(Entry) + 64;
  if (entry_bytes > max_bytes_) return info;
  entries_.push_front(Entry{std::string(sql), info, entry_bytes});
  bytes_ += entry_bytes;
  index_.emplace(std::string_view(entries_.front().text), entries_.begin());
  evict_to_fit();
  return info;
}

void StatementCache::evict_to_fit() {
  while (entries_.size() > capacity_ || bytes_ > max_bytes_) {
    Entry& last = entries_.back();
    index_.erase(std::string_view(last.text));
    bytes_ -= last.bytes;
    entries_.pop_back();
    ++evictions_;
  }
}

void StatementCache::clear() {
  index_.clear();
  entries_.clear();
  bytes_ = 0;
}

}  // namespace shardgate::routing
