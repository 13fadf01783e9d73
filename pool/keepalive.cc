#include "pool/keepalive.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace shardgate::pool {

void apply_keepalive(tcp::socket& socket, const KeepAlive& k) {
  error_code ignored;
  socket.set_option(asio::socket_base::keep_alive(k.enabled), ignored);
  if (!k.enabled) return;
  int fd = socket.native_handle();
  int idle = static_cast<int>(k.idle.count());
  int interval = static_cast<int>(k.interval.count());
  int count = k.count;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace shardgate::pool
