#include "proxy/tls/server_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstring>

namespace shardgate::proxy::tls {

namespace {

// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 keeps OpenSSL's own list.
constexpr const char* kDefaultCiphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS";

absl::Status file_error(std::string_view key, const std::string& file, std::string_view what) {
  return absl::InvalidArgumentError("tls." + std::string(key) + " " + file + ": " +
                                    std::string(what) + " (" + openssl_reason() + ")");
}

// Picks "postgresql" when the client offers it; a client offering only other protocols is
// refused, as PostgreSQL does. No ALPN at all is fine (SSLRequest clients before 17).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == kAlpnPostgresql.size() &&
        std::memcmp(in + i + 1, kAlpnPostgresql.data(), len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

absl::Status configure(SSL_CTX* ctx, const config::TlsConfig& c) {
  SSL_CTX_set_min_proto_version(
      ctx, c.min_version == config::TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  // No session resumption: PostgreSQL clients do not use it, and a cache is state to reload.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  const std::string& ciphers = c.ciphers.empty() ? std::string(kDefaultCiphers) : c.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1)
    return absl::InvalidArgumentError("tls.ciphers \"" + ciphers + "\": no usable cipher (" +
                                      openssl_reason() + ")");
  if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_file.c_str()) != 1)
    return file_error("cert_file", c.cert_file, "cannot load the certificate");
  if (SSL_CTX_use_PrivateKey_file(ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return file_error("key_file", c.key_file, "cannot load the private key");
  if (SSL_CTX_check_private_key(ctx) != 1)
    return file_error("key_file", c.key_file, "the key does not match tls.cert_file");
  if (!c.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, c.ca_file.c_str(), nullptr) != 1)
      return file_error("ca_file", c.ca_file, "cannot load the CA certificates");
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    // With a CA every TLS client must show a certificate that chains to it (PostgreSQL's
    // clientcert=verify-ca): one without, or from another CA, fails the handshake with the
    // TLS alert clients report ("certificate required", "unknown ca").
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  return absl::OkStatus();
}

}  // namespace

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

absl::StatusOr<std::shared_ptr<const ServerTls>> ServerTls::load(const config::TlsConfig& c) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return absl::InternalError("cannot create a TLS context: " + openssl_reason());
  if (auto st = configure(ctx, c); !st.ok()) {
    SSL_CTX_free(ctx);
    return st;
  }
  return std::shared_ptr<const ServerTls>(new ServerTls(ctx, c.mode));
}

ServerTls::~ServerTls() { SSL_CTX_free(ctx_); }

SSL* ServerTls::accept_session() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl) SSL_set_accept_state(ssl);
  return ssl;
}

bool negotiated_postgresql_alpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return len == kAlpnPostgresql.size() && std::memcmp(data, kAlpnPostgresql.data(), len) == 0;
}

std::string server_end_point(const SSL* ssl) {
  X509* cert = SSL_get_certificate(ssl);
  if (!cert) return {};
  int digest_nid = NID_undef, pkey_nid = NID_undef;
  if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest_nid, &pkey_nid)) return {};
  const EVP_MD* md = nullptr;
  if (digest_nid == NID_md5 || digest_nid == NID_sha1 || digest_nid == NID_undef)
    md = EVP_sha256();
  else
    md = EVP_get_digestbynid(digest_nid);
  if (!md) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, hash, &len) != 1) return {};
  return std::string(reinterpret_cast<char*>(hash), len);
}

}  // namespace shardgate::proxy::tls
