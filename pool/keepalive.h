// TCP keepalive on a socket: a peer that vanished without closing (a host that died, a NAT
// or load balancer that dropped the flow) is found within idle + interval * count.
#pragma once

#include <chrono>

#include "pool/asio.h"

namespace shardgate::pool {

struct KeepAlive {
  bool enabled = true;
  std::chrono::seconds idle{60};
  std::chrono::seconds interval{10};
  int count = 6;
  bool operator==(const KeepAlive&) const = default;
};

// Best effort: a socket that refuses an option keeps the system's default for it. On a
// listening socket the options reach every connection it accepts (Linux copies them, and
// arms the keepalive timer, when it creates the accepted socket).
void apply_keepalive(int fd, const KeepAlive& k);
inline void apply_keepalive(tcp::socket& socket, const KeepAlive& k) {
  apply_keepalive(socket.native_handle(), k);
}

}  // namespace shardgate::pool
