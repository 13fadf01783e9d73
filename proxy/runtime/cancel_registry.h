// Maps the BackendKeyData shardgate gave each client to the server connection serving it,
// so a CancelRequest arriving on any worker reaches the right server. The registry's lock is
// taken at connect, disconnect and cancel only; a session updates its own slot (its own lock,
// never contended but by a cancel) when it checks a server connection out or in.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "pool/server_connection.h"

namespace shardgate::proxy {

struct ClientKey {
  int32_t pid = 0;
  int32_t secret = 0;
};

// The server connection serving one client at this moment, if any.
class CancelSlot {
 public:
  void set(std::shared_ptr<const pool::CancelTarget> target) {
    std::lock_guard lock(mu_);
    target_ = std::move(target);
  }
  std::shared_ptr<const pool::CancelTarget> get() const {
    std::lock_guard lock(mu_);
    return target_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const pool::CancelTarget> target_;
};

class CancelRegistry {
 public:
  // Issues a new unique key for a client session whose current server `slot` tracks.
  ClientKey issue(std::shared_ptr<CancelSlot> slot);
  void remove(ClientKey key);
  // The server to cancel for this key, when the secret matches and a server is serving it.
  std::optional<pool::CancelTarget> find(ClientKey key) const;
  size_t size() const;

 private:
  struct Entry {
    int32_t secret;
    std::shared_ptr<CancelSlot> slot;
  };
  mutable std::mutex mu_;
  absl::flat_hash_map<int32_t, Entry> entries_;
  int32_t next_pid_ = 0;
};

}  // namespace shardgate::proxy
