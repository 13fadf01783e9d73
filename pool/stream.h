// A connection's byte stream: a TCP socket, with TLS on top once negotiated. Plaintext
// reads and writes go straight to the socket; the one extra test is whether TLS is on.
#pragma once

#include <memory>
#include <span>
#include <tuple>

#include "pool/asio.h"
#include "pool/socket_write.h"
#include "pool/tls_link.h"

namespace shardgate {

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}
  explicit Stream(asio::any_io_executor executor) : socket_(executor) {}

  tcp::socket& socket() { return socket_; }
  const tcp::socket& socket() const { return socket_; }
  // Replaces the socket (a session moving worker); the TLS state stays.
  void reset_socket(tcp::socket socket) { socket_ = std::move(socket); }
  TlsLink* tls() const { return tls_.get(); }
  void start_tls(std::unique_ptr<TlsLink> link) { tls_ = std::move(link); }

  auto get_executor() { return socket_.get_executor(); }
  bool is_open() const { return socket_.is_open(); }
  void cancel(error_code& ec) { socket_.cancel(ec); }
  void close(error_code& ec) { socket_.close(ec); }

  // Not coroutines: each returns the socket's own awaitable when TLS is off, so a plaintext
  // read or write costs what it cost before TLS existed.
  awaitable<std::tuple<error_code, size_t>> read_some(std::span<uint8_t> into) {
    if (tls_) return tls_->read_some(socket_, into);
    return socket_.async_read_some(asio::buffer(into.data(), into.size()), use_nothrow);
  }
  awaitable<std::tuple<error_code, size_t>> write(protocol::ByteSpan bytes,
                                                  Send how = Send::kQueued) {
    if (tls_) return tls_->write(socket_, bytes, how);
    return write_whole(socket_, bytes, how);
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<TlsLink> tls_;
};

}  // namespace shardgate
