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

// Best effort: a socket that refuses an option keeps the system's default for it.
void apply_keepalive(tcp::socket& socket, const KeepAlive& k);

}  // namespace shardgate::pool
