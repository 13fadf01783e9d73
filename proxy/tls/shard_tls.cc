// TLS contexts towards the shards (libpq's sslmode semantics), and the set of contexts one
// configuration needs.
#include <openssl/err.h>

#include "proxy/tls/contexts.h"

namespace shardgate::proxy::tls {

namespace {

absl::Status shard_error(const config::ShardConfig& s, std::string_view key,
                         const std::string& file, std::string_view what) {
  return absl::InvalidArgumentError("shards." + s.name + "." + std::string(key) + " " + file +
                                    ": " + std::string(what) + " (" + openssl_reason() + ")");
}

pool::SslMode mode_of(const std::string& name) {
  if (name == "prefer") return pool::SslMode::kPrefer;
  if (name == "require") return pool::SslMode::kRequire;
  if (name == "verify-ca") return pool::SslMode::kVerifyCa;
  if (name == "verify-full") return pool::SslMode::kVerifyFull;
  return pool::SslMode::kDisable;
}

absl::Status configure(SSL_CTX* ctx, const config::ShardConfig& s, pool::SslMode mode) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  // As libpq: `require` with a root certificate given checks the chain like verify-ca.
  bool verify = mode == pool::SslMode::kVerifyCa || mode == pool::SslMode::kVerifyFull ||
                (mode == pool::SslMode::kRequire && !s.sslrootcert.empty());
  if (verify) {
    if (SSL_CTX_load_verify_locations(ctx, s.sslrootcert.c_str(), nullptr) != 1) {
      return shard_error(s, "sslrootcert", s.sslrootcert, "cannot load the CA certificates");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!s.sslcert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, s.sslcert.c_str()) != 1)
      return shard_error(s, "sslcert", s.sslcert, "cannot load the client certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, s.sslkey.c_str(), SSL_FILETYPE_PEM) != 1)
      return shard_error(s, "sslkey", s.sslkey, "cannot load the client key");
    if (SSL_CTX_check_private_key(ctx) != 1)
      return shard_error(s, "sslkey", s.sslkey, "the key does not match sslcert");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const pool::ShardTls>> load_shard_tls(const config::ShardConfig& s) {
  auto tls = std::make_shared<pool::ShardTls>();
  tls->mode = mode_of(s.sslmode);
  auto made = new_tls_context(TLS_client_method());
  if (!made.ok()) return made.status();
  SSL_CTX* ctx = *made;
  tls->context.reset(ctx, SSL_CTX_free);
  if (auto st = configure(ctx, s, tls->mode); !st.ok()) return st;
  return std::shared_ptr<const pool::ShardTls>(std::move(tls));
}

absl::StatusOr<std::shared_ptr<const TlsContexts>> TlsContexts::load(const config::Config& c) {
  auto out = std::make_shared<TlsContexts>();
  if (c.tls.enabled()) {
    auto clients = ServerTls::load(c.tls);
    if (!clients.ok()) return clients.status();
    out->clients = std::move(*clients);
  }
  for (const auto& [name, shard] : c.shards) {
    if (shard.sslmode == "disable") continue;
    auto tls = load_shard_tls(shard);
    if (!tls.ok()) return tls.status();
    out->shards.emplace(name, std::move(*tls));
  }
  return std::shared_ptr<const TlsContexts>(std::move(out));
}

}  // namespace shardgate::proxy::tls
