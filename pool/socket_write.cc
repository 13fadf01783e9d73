#include "pool/socket_write.h"

#include <sys/socket.h>

#include <cerrno>

namespace shardgate {

namespace {

// Sends what the socket takes now; `sent` says how much. EAGAIN is not an error.
error_code send_now(tcp::socket& socket, protocol::ByteSpan bytes, size_t& sent) {
  sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(socket.native_handle(), bytes.data() + sent, bytes.size() - sent,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    return error_code(n < 0 ? errno : EPIPE, asio::error::get_system_category());
  }
  return {};
}

}  // namespace

awaitable<std::tuple<error_code, size_t>> write_all(tcp::socket& socket, protocol::ByteSpan bytes) {
  size_t sent = 0;
  if (error_code ec = send_now(socket, bytes, sent); ec || sent == bytes.size())
    co_return std::tuple{ec, sent};
  auto [ec, n] = co_await asio::async_write(
      socket, asio::buffer(bytes.data() + sent, bytes.size() - sent), use_nothrow);
  co_return std::tuple{ec, sent + n};
}

}  // namespace shardgate
