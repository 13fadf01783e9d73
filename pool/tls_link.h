// TLS over a TCP socket with BIOs over buffers of our own (pool/tls_buffers.h): the SSL
// object and its ciphertext buffers are plain data, tied to no io_context, so a client session
// moving to its pool's worker takes its TLS state along with the socket's file descriptor.
//
// Memory stays bounded as on a plaintext connection: ciphertext is read from the socket only
// when OpenSSL asks for more (at most one read buffer at a time), and a write waits until
// everything it encrypted has reached the socket before it returns.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <span>
#include <string>
#include <tuple>

#include "pool/asio.h"
#include "pool/socket_write.h"
#include "pool/tls_buffers.h"
#include "protocol/bytes.h"

namespace shardgate {

class TlsLink {
 public:
  // Takes ownership of `ssl` (already set up for the accept or the connect side).
  explicit TlsLink(SSL* ssl);
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  SSL* ssl() const { return ssl_; }
  // Ciphertext already read from the socket before TLS started (a direct TLS ClientHello).
  void seed(protocol::ByteSpan ciphertext);
  // Runs the handshake to its end; on failure, error() says why in OpenSSL's words.
  awaitable<error_code> handshake(tcp::socket& socket);
  awaitable<std::tuple<error_code, size_t>> read_some(tcp::socket& socket, std::span<uint8_t> out);
  awaitable<std::tuple<error_code, size_t>> write(tcp::socket& socket, protocol::ByteSpan bytes,
                                                  Send how = Send::kQueued);
  const std::string& error() const { return error_; }

 private:
  // Reads one chunk of ciphertext from the socket into OpenSSL's input.
  awaitable<error_code> fill(tcp::socket& socket);
  asio::mutable_buffer input_buffer();
  // Writes everything OpenSSL has produced to the socket; one writer at a time. Answers
  // `written` back with the error, for write().
  awaitable<std::tuple<error_code, size_t>> flush(tcp::socket& socket, Send how = Send::kQueued,
                                                  size_t written = 0);
  // write() for what takes more than one slice.
  awaitable<std::tuple<error_code, size_t>> write_slices(tcp::socket& socket,
                                                         protocol::ByteSpan bytes, Send how);
  static awaitable<std::tuple<error_code, size_t>> failed_write(error_code ec);
  // The error for a failed SSL_* call (also records error_).
  error_code failure(int ret);

  TlsBuffers buffers_;  // before ssl_: the SSL object's BIOs point here until SSL_free
  SSL* ssl_;
  bool flushing_ = false;
  asio::steady_timer* flush_waiter_ = nullptr;
  std::string error_;
};

}  // namespace shardgate
