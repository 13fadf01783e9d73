// shardgate's side of TLS to a shard: SSLRequest, then the handshake, checking the shard's
// certificate as the shard's sslmode says (libpq's meanings).
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "pool/server_connection.h"
#include "pool/wire_io.h"
#include "protocol/startup.h"

namespace shardgate::pool {

namespace {

ServerResult tls_failure(const ConnectTarget& t, std::string_view why) {
  return {ServerResult::Kind::kUnreachable, "08006",
          "could not connect to shard \"" + t.shard + "\" at " + t.host + ":" +
              std::to_string(t.port) + ": " + std::string(why)};
}

// verify-full: the certificate must name the host shardgate dialled (a DNS name, or an IP
// address in subjectAltName).
bool expect_host(SSL* ssl, const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

}  // namespace

awaitable<ServerResult> ServerConnection::negotiate_tls(const ConnectTarget& target) {
  const ShardTls& tls = *target.tls;
  protocol::Bytes out;
  protocol::encode_ssl_request(out);
  error_code wec = co_await write_bytes(stream_, out);
  if (wec) co_return tls_failure(target, wec.message());
  uint8_t answer = 0;
  // Exactly one byte: anything after it belongs to the TLS handshake.
  auto [ec, n] = co_await asio::async_read(stream_.socket(), asio::buffer(&answer, 1), use_nothrow);
  (void)n;
  if (ec) co_return tls_failure(target, ec.message());
  if (answer == 'N') {
    if (tls.mode == SslMode::kPrefer) co_return ServerResult{};
    co_return tls_failure(target,
                          "the server does not support TLS, and the shard's sslmode requires it");
  }
  if (answer != 'S')
    co_return tls_failure(target, "unexpected answer to SSLRequest (is this PostgreSQL?)");
  SSL* ssl = SSL_new(tls.context.get());
  if (!ssl) co_return tls_failure(target, "cannot create a TLS session");
  SSL_set_connect_state(ssl);
  error_code not_ip;
  asio::ip::make_address(target.host, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(ssl, target.host.c_str());  // SNI, as libpq sends it
  if (tls.mode == SslMode::kVerifyFull && !expect_host(ssl, target.host)) {
    SSL_free(ssl);
    co_return tls_failure(target, "cannot set the host name to verify");
  }
  auto link = std::make_unique<TlsLink>(ssl);
  TlsLink& handshake = *link;
  stream_.start_tls(std::move(link));
  error_code failed = co_await handshake.handshake(stream_.socket());
  if (failed) co_return tls_failure(target, "TLS handshake failed: " + handshake.error());
  co_return ServerResult{};
}

}  // namespace shardgate::pool
