#include "pool/idle_read.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>

namespace shardgate {

bool readable_now(tcp::socket& socket) {
  uint8_t probe;
  ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace shardgate
