// The BIOs TLS connections hand OpenSSL: a real handshake and real records between two SSL
// objects, with this test carrying the ciphertext from one's output to the other's input.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>
#include <vector>

#include "pool/tls_buffers.h"

namespace shardgate {
namespace {

struct Side {
  TlsBuffers buffers;
  SSL* ssl = nullptr;
  ~Side() { SSL_free(ssl); }
};

// A self-signed P-256 certificate, enough for a handshake that verifies nothing.
SSL_CTX* server_context() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tls-buffers-test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

void attach(Side& side, SSL_CTX* ctx) {
  side.ssl = SSL_new(ctx);
  SSL_set_bio(side.ssl, side.buffers.new_bio(), side.buffers.new_bio());
}

// Moves everything `from` produced into `to`'s input; false when there was nothing.
bool carry(Side& from, Side& to) {
  if (from.buffers.output_empty()) return false;
  to.buffers.add_input(from.buffers.take_output());
  from.buffers.output_sent();
  return true;
}

class TlsBuffersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ctx_ = server_context();
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    attach(server_, server_ctx_);
    attach(client_, client_ctx_);
    SSL_set_accept_state(server_.ssl);
    SSL_set_connect_state(client_.ssl);
  }
  void TearDown() override {
    SSL_CTX_free(server_ctx_);
    SSL_CTX_free(client_ctx_);
  }
  void handshake() {
    for (int flights = 0; flights < 10; ++flights) {
      int c = SSL_do_handshake(client_.ssl);
      carry(client_, server_);
      int s = SSL_do_handshake(server_.ssl);
      carry(server_, client_);
      if (c == 1 && s == 1) return;
    }
    FAIL() << "the handshake did not finish";
  }

  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  Side server_, client_;
};

TEST_F(TlsBuffersTest, EmptyInputAsksForMoreInsteadOfEndingTheStream) {
  char byte;
  size_t n = 0;
  EXPECT_EQ(SSL_read_ex(server_.ssl, &byte, 1, &n), 0);
  EXPECT_EQ(SSL_get_error(server_.ssl, 0), SSL_ERROR_WANT_READ);
  EXPECT_TRUE(server_.buffers.output_empty());
}

TEST_F(TlsBuffersTest, HandshakeAndRecordsBothWays) {
  handshake();
  ASSERT_EQ(SSL_write(client_.ssl, "SELECT 1;", 9), 9);
  ASSERT_TRUE(carry(client_, server_));
  char got[64] = {};
  size_t n = 0;
  ASSERT_EQ(SSL_read_ex(server_.ssl, got, sizeof got, &n), 1);
  EXPECT_EQ(std::string(got, n), "SELECT 1;");
  EXPECT_TRUE(server_.buffers.input_empty());
  EXPECT_EQ(SSL_has_pending(server_.ssl), 0);  // what read_some tests before reading the socket
  ASSERT_EQ(SSL_write(server_.ssl, "1", 1), 1);
  ASSERT_TRUE(carry(server_, client_));
  ASSERT_EQ(SSL_read_ex(client_.ssl, got, sizeof got, &n), 1);
  EXPECT_EQ(std::string(got, n), "1");
}

TEST_F(TlsBuffersTest, BigWriteReadInSmallPiecesArrivesWhole) {
  handshake();
  std::vector<uint8_t> sent(64 * 1024 + 77);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + 3);
  ASSERT_EQ(SSL_write(server_.ssl, sent.data(), static_cast<int>(sent.size())),
            static_cast<int>(sent.size()));
  ASSERT_TRUE(carry(server_, client_));
  std::vector<uint8_t> got;
  uint8_t piece[1000];
  for (int reads = 0; reads < 1000 && got.size() < sent.size(); ++reads) {
    size_t n = 0;
    ASSERT_EQ(SSL_read_ex(client_.ssl, piece, sizeof piece, &n), 1);
    got.insert(got.end(), piece, piece + n);
    // A record read in part stays pending in OpenSSL: the socket must not be waited on.
    if (got.size() < sent.size()) {
      EXPECT_TRUE(SSL_has_pending(client_.ssl) == 1 || !client_.buffers.input_empty());
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(client_.buffers.input_empty());
  EXPECT_EQ(SSL_has_pending(client_.ssl), 0);
}

TEST_F(TlsBuffersTest, OutputUnderWayDoesNotMoveWhenMoreIsWritten) {
  handshake();
  ASSERT_EQ(SSL_write(server_.ssl, "first", 5), 5);
  protocol::ByteSpan under_way = server_.buffers.take_output();
  const std::vector<uint8_t> copy(under_way.begin(), under_way.end());
  const std::string big(40000, 'x');  // enough to make a growing buffer move
  ASSERT_EQ(SSL_write(server_.ssl, big.data(), static_cast<int>(big.size())), 40000);
  EXPECT_EQ(std::vector<uint8_t>(under_way.begin(), under_way.end()), copy);
  client_.buffers.add_input(under_way);
  server_.buffers.output_sent();
  ASSERT_TRUE(carry(server_, client_));
  std::string got(40005, '\0');
  size_t total = 0;
  while (total < got.size()) {
    size_t n = 0;
    ASSERT_EQ(SSL_read_ex(client_.ssl, got.data() + total, got.size() - total, &n), 1);
    total += n;
  }
  EXPECT_EQ(got, "first" + big);
}

TEST_F(TlsBuffersTest, InputSpaceKeepsUnreadBytes) {
  TlsBuffers b;
  std::vector<uint8_t> bytes(40000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  b.add_input({bytes.data(), bytes.size()});  // more than one socket read's worth
  BIO* bio = b.new_bio();
  ASSERT_NE(bio, nullptr);
  std::vector<uint8_t> out(bytes.size());
  size_t n = 0;
  ASSERT_EQ(BIO_read_ex(bio, out.data(), 30000, &n), 1);
  ASSERT_EQ(n, 30000u);
  EXPECT_FALSE(b.input_empty());
  auto space = b.input_space();  // the unread rest stays ahead of the new space
  EXPECT_FALSE(space.empty());
  ASSERT_EQ(BIO_read_ex(bio, out.data() + 30000, 20000, &n), 1);
  ASSERT_EQ(n, 10000u);
  EXPECT_EQ(out, bytes);
  EXPECT_TRUE(b.input_empty());
  EXPECT_EQ(BIO_read_ex(bio, out.data(), 1, &n), 0);
  EXPECT_TRUE(BIO_should_retry(bio));
  BIO_free(bio);
}

}  // namespace
}  // namespace shardgate
