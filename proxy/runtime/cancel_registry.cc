#include "proxy/runtime/cancel_registry.h"

#include "protocol/auth.h"

namespace shardgate::proxy {

ClientKey CancelRegistry::issue(std::shared_ptr<CancelSlot> slot) {
  ClientKey key;
  protocol::random_bytes(reinterpret_cast<uint8_t*>(&key.secret), sizeof key.secret);
  std::lock_guard lock(mu_);
  if (next_pid_ == 0) {
    uint16_t start;
    protocol::random_bytes(reinterpret_cast<uint8_t*>(&start), sizeof start);
    next_pid_ = 100000 + start;
  }
  do {
    key.pid = next_pid_++;
    if (next_pid_ <= 0) next_pid_ = 100000;
  } while (entries_.contains(key.pid));
  entries_.emplace(key.pid, Entry{key.secret, std::move(slot)});
  return key;
}

void CancelRegistry::remove(ClientKey key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key.pid);
  if (it != entries_.end() && it->second.secret == key.secret) entries_.erase(it);
}

std::optional<pool::CancelTarget> CancelRegistry::find(ClientKey key) const {
  std::shared_ptr<CancelSlot> slot;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key.pid);
    if (it == entries_.end() || it->second.secret != key.secret) return std::nullopt;
    slot = it->second.slot;
  }
  auto target = slot ? slot->get() : nullptr;
  if (!target) return std::nullopt;
  return *target;
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace shardgate::proxy
