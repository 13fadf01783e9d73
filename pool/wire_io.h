// Coroutine helpers that move whole PostgreSQL messages between sockets and ReadBuffers.
#pragma once

#include <algorithm>
#include <span>
#include <utility>

#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"
#include "protocol/frame.h"

namespace shardgate {

using FrameRead = std::pair<error_code, protocol::Frame>;

// Where the next read goes while `buf` is short of n bytes: at least what is missing, and
// at least 8 KiB, so a trickling peer is not read a few bytes at a time.
inline std::span<uint8_t> space_toward(ReadBuffer& buf, size_t n) {
  return buf.prepare(std::max<size_t>(n - buf.size(), 8192));
}

// Reads until `buf` holds at least n bytes.
awaitable<error_code> read_at_least(tcp::socket& socket, ReadBuffer& buf, size_t n);

// Reads one whole typed message. On success frame.body points into `buf` until the caller
// consumes frame.size bytes. A frame with status kError means the peer broke the protocol.
awaitable<FrameRead> read_message(tcp::socket& socket, ReadBuffer& buf,
                                  size_t max_len = protocol::kDefaultMaxMessage);

// Reads one untyped startup-phase packet.
awaitable<FrameRead> read_startup_packet(tcp::socket& socket, ReadBuffer& buf);

awaitable<error_code> write_bytes(tcp::socket& socket, protocol::ByteSpan bytes);

// The same over a Stream: through TLS when it is on.
awaitable<error_code> read_at_least(Stream& stream, ReadBuffer& buf, size_t n);
awaitable<FrameRead> read_message(Stream& stream, ReadBuffer& buf,
                                  size_t max_len = protocol::kDefaultMaxMessage);
awaitable<FrameRead> read_startup_packet(Stream& stream, ReadBuffer& buf);
awaitable<error_code> write_bytes(Stream& stream, protocol::ByteSpan bytes,
                                  Send how = Send::kQueued);

}  // namespace shardgate
