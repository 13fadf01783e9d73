// Signs that a server connection is over: what the server says just before it closes one.
#pragma once

#include "protocol/bytes.h"

namespace shardgate::pool {

// An ErrorResponse of severity FATAL or PANIC: the server closes the connection after it (a
// shutdown or restart, pg_terminate_backend, idle_session_timeout). `body` is the message
// body; a malformed one counts as fatal (nothing more can be read from that server).
bool ends_connection(char type, protocol::ByteSpan body);

}  // namespace shardgate::pool
