#include "routing/guard/statement_cache.h"

#include <algorithm>
#include <optional>

#include "routing/guard/statement_shape.h"

namespace shardgate::routing {

StatementCache::StatementCache(size_t capacity, size_t max_bytes)
    : capacity_(std::max<size_t>(capacity, 1)), max_bytes_(max_bytes) {
  index_.reserve(std::min<size_t>(capacity_, 1024));
}

std::shared_ptr<const StatementInfo> StatementCache::find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (it->second != entries_.begin()) entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->info;
}

std::shared_ptr<const StatementInfo> StatementCache::get(std::string_view sql) {
  // A statement with a shape (statement_shape.h) is kept under it: the same statement with
  // other literal values finds it there. Only what parsed: an error message quotes the text.
  std::optional<std::string> shape = statement_shape(sql);
  if (shape) {
    if (auto info = find(*shape)) {
      ++hits_;
      ++shape_hits_;
      return info;
    }
  }
  if (auto info = find(sql)) {
    ++hits_;
    return info;
  }
  ++misses_;
  auto info = std::make_shared<const StatementInfo>(inspect_statement(sql));
  std::string_view key = shape && info->parsed ? std::string_view(*shape) : sql;
  if (key.size() > kMaxCachedTextBytes) return info;
  size_t entry_bytes = key.size() + info->memory_bytes() + sizeof(Entry) + 64;
  if (entry_bytes > max_bytes_) return info;
  entries_.push_front(Entry{std::string(key), info, entry_bytes});
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
