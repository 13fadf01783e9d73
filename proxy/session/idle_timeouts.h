// client_idle_timeout and idle_transaction_timeout: one sweep per worker looks at its
// sessions a few times per shortest timeout; a session past its limit has its client read
// cancelled and ends with a FATAL (57P05 idle, 25P03 idle in transaction). No timer per
// session: an idle client costs no memory for this. The same sweep parks clients idle for a
// second or more (idle_park.cc).
#pragma once

#include "pool/asio.h"
#include "proxy/runtime/runtime.h"
#include "proxy/session/worker.h"

namespace shardgate::proxy {

awaitable<void> sweep_idle_clients(Worker& worker, RuntimeHolder& runtime);

}  // namespace shardgate::proxy
