// Waiting for a client's next message without holding a read buffer.
//
// Most clients of a pooler are idle most of the time. Between messages a session gives its
// read buffer back and waits for the socket to become readable; the buffer is taken again
// only when bytes (or the end of the stream) are there to read.
#pragma once

#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"

namespace shardgate {

// Whether a read on `socket` would not block now: data, end of stream or an error pending.
bool readable_now(tcp::socket& socket);

// With nothing buffered on a plaintext stream: releases `buf` and waits until the socket is
// readable (or the wait is cancelled: the error). Otherwise returns at once. TLS streams keep
// their buffer, as the TLS layer may hold decrypted bytes the socket no longer shows.
awaitable<error_code> wait_idle_readable(Stream& stream, ReadBuffer& buf);

}  // namespace shardgate
