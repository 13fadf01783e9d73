// Every TLS context one configuration needs, built together when the config is loaded (at
// start, RELOAD, SIGHUP): a certificate that does not load refuses the whole config, so the
// running one stays.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "pool/server_connection.h"
#include "proxy/tls/server_tls.h"

namespace shardgate::proxy::tls {

struct TlsContexts {
  std::shared_ptr<const ServerTls> clients;  // null: tls.mode disable
  // Shards whose sslmode is not disable, by name.
  std::map<std::string, std::shared_ptr<const pool::ShardTls>, std::less<>> shards;

  static absl::StatusOr<std::shared_ptr<const TlsContexts>> load(const config::Config& config);
  std::shared_ptr<const pool::ShardTls> shard(std::string_view name) const {
    auto it = shards.find(name);
    return it == shards.end() ? nullptr : it->second;
  }
};

// The client context shardgate uses towards one shard; the error names the shard, the file
// and OpenSSL's reason.
absl::StatusOr<std::shared_ptr<const pool::ShardTls>> load_shard_tls(
    const config::ShardConfig& shard);

}  // namespace shardgate::proxy::tls
