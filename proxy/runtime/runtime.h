// The running configuration: config + directory + derived secrets, as one immutable
// snapshot swapped atomically on reload. Sessions keep the snapshot they started with.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "protocol/auth.h"
#include "proxy/tls/contexts.h"
#include "routing/directory.h"

namespace shardgate::proxy {

struct Runtime {
  config::ConfigPtr config;
  routing::DirectoryPtr directory;
  // SCRAM verifiers for users with plain-text passwords, derived once per load.
  absl::flat_hash_map<std::string, protocol::ScramVerifier> scram_verifiers;
  // Schema -> tenant, for the search_path tenant source (directory entries).
  absl::flat_hash_map<std::string, std::string> tenant_by_schema;
  // TLS contexts (clients, shards), built from the certificate files when the config was
  // loaded; a connection keeps the one it started with. Never null.
  std::shared_ptr<const tls::TlsContexts> tls = std::make_shared<const tls::TlsContexts>();
  // The context clients get; null with tls.mode: disable.
  const tls::ServerTls* client_tls() const { return tls->clients.get(); }

  // The tenant whose schema this is: a directory entry's schema, or a name that fits
  // tenant.schema_template. Empty when it is neither.
  std::string tenant_for_schema(std::string_view schema) const;
};

using RuntimePtr = std::shared_ptr<const Runtime>;

// Loads and validates config, directory and TLS certificates; nothing is half-applied on
// error.
absl::StatusOr<RuntimePtr> load_runtime(const std::string& config_path);
RuntimePtr make_runtime(config::Config config, routing::Directory directory,
                        std::shared_ptr<const tls::TlsContexts> tls = nullptr);

class RuntimeHolder {
 public:
  explicit RuntimeHolder(RuntimePtr initial) : current_(std::move(initial)) {}
  RuntimePtr get() const { return std::atomic_load_explicit(&current_, std::memory_order_acquire); }
  void set(RuntimePtr next) {
    std::atomic_store_explicit(&current_, std::move(next), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // Bumped by every set(): a cheap "has anything changed" check for sessions.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  RuntimePtr current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace shardgate::proxy
