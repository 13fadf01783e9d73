// Maps the BackendKeyData shardgate gave each client to the server connection serving it,
// so a CancelRequest arriving on any worker reaches the right server. Touched at connect,
// disconnect, server change and cancel only: never on the per-query path.
#pragma once

#include <cstdint>
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

class CancelRegistry {
 public:
  // Issues a new unique key for a client session.
  ClientKey issue();
  // Sets (or clears, with nullopt) the server connection serving the client now.
  void set_target(ClientKey key, std::optional<pool::CancelTarget> target);
  void remove(ClientKey key);
  // The server to cancel for this key, when the secret matches and a server is serving it.
  std::optional<pool::CancelTarget> find(ClientKey key) const;
  size_t size() const;

 private:
  struct Entry {
    int32_t secret;
    std::optional<pool::CancelTarget> target;
  };
  mutable std::mutex mu_;
  absl::flat_hash_map<int32_t, Entry> entries_;
  int32_t next_pid_ = 0;
};

}  // namespace shardgate::proxy
