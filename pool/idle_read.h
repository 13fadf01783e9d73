// Whether a client socket has something to read, without reading it: an idle client is
// waited for with no read buffer held (proxy/session/idle_park.cc).
#pragma once

#include "pool/asio.h"

namespace shardgate {

// Whether a read on `socket` would not block now: data, end of stream or an error pending.
bool readable_now(tcp::socket& socket);

}  // namespace shardgate
