#include "pool/idle_read.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>

namespace shardgate {

bool readable_now(tcp::socket& socket) {
  uint8_t probe;
  ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

awaitable<error_code> wait_idle_readable(Stream& stream, ReadBuffer& buf) {
  if (!buf.empty() || stream.tls()) co_return error_code{};
  buf.release();
  // The peek first: the reactor is edge-triggered, and an edge it saw while no read was
  // pending (bytes or a close that arrived during the last reply) would not wake a wait.
  if (readable_now(stream.socket())) co_return error_code{};
  auto [ec] = co_await stream.socket().async_wait(tcp::socket::wait_read, use_nothrow);
  co_return ec;
}

}  // namespace shardgate
