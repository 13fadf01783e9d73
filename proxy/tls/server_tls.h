// The TLS shardgate offers its clients (and the admin TCP listener): one OpenSSL context
// built from the `tls` block. A new one is built on every reload; connections keep the
// context they started with (each SSL object holds a reference to it).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace shardgate::proxy::tls {

// OpenSSL's last error as text (the queue is cleared), for errors that name a file or step.
std::string openssl_reason();
// A fresh TLS context for `method` (TLS_server_method() or TLS_client_method()) with
// OpenSSL's error queue cleared first; the caller owns it (SSL_CTX_free).
absl::StatusOr<SSL_CTX*> new_tls_context(const SSL_METHOD* method);

class ServerTls {
 public:
  // Loads certificate, key and CA; the error names the file and OpenSSL's reason.
  static absl::StatusOr<std::shared_ptr<const ServerTls>> load(const config::TlsConfig& config);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  config::TlsMode mode() const { return mode_; }
  // A new server-side SSL object for one connection; null when OpenSSL is out of memory.
  SSL* accept_session() const;

 private:
  ServerTls(SSL_CTX* ctx, config::TlsMode mode) : ctx_(ctx), mode_(mode) {}
  SSL_CTX* ctx_;
  config::TlsMode mode_;
};

// The ALPN protocol name PostgreSQL 17 clients offer; direct TLS connections must have it.
inline constexpr std::string_view kAlpnPostgresql = "postgresql";
// Whether the handshake on `ssl` agreed on ALPN "postgresql".
bool negotiated_postgresql_alpn(const SSL* ssl);

// The `tls-server-end-point` channel binding data (RFC 5929) of the certificate this end of
// `ssl` presented: its hash under the certificate's signature digest (SHA-256 for MD5 and
// SHA-1). Empty when there is no certificate.
std::string server_end_point(const SSL* ssl);

}  // namespace shardgate::proxy::tls
