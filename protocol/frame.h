// Framing of the PostgreSQL v3 byte stream: find where one message ends without copying it.
// Pure and total: any byte sequence yields a frame, "need more", or an error; never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/bytes.h"

namespace shardgate::protocol {

// PostgreSQL's own MAX_STARTUP_PACKET_LENGTH.
inline constexpr size_t kMaxStartupPacket = 10000;
// Largest message shardgate accepts whole (Query, Parse, ...) from a client by default.
inline constexpr size_t kDefaultMaxMessage = 64 * 1024 * 1024;
// Largest length a typed message may declare at all (PostgreSQL's own limit is 1 GB).
inline constexpr size_t kMaxDeclaredMessage = size_t{1} << 30;

enum class FrameStatus { kFrame, kNeedMore, kError };

struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  char type = 0;           // message type byte; 0 for startup-phase packets
  ByteSpan body;           // the message body (after type and length), valid for kFrame
  size_t size = 0;         // kFrame: bytes the whole message occupies in the input
  size_t needed = 0;       // kNeedMore: total bytes needed for the frame if known, else 0
  std::string_view error;  // kError: a static description
};

// Header of a typed message: type byte and the declared length (which counts itself).
struct Header {
  FrameStatus status = FrameStatus::kNeedMore;
  char type = 0;
  size_t total = 0;  // 1 + declared length: bytes the whole message occupies
  std::string_view error;
};

// Reads only the 5-byte header; lets a relay stream bodies larger than its buffer.
Header parse_header(ByteSpan in);

// A typed message (1-byte type, int32 length including itself, body). A declared length
// below 4 or above max_len is an error.
Frame parse_message(ByteSpan in, size_t max_len = kDefaultMaxMessage);

// An untyped startup-phase packet (int32 length including itself, body), at most
// kMaxStartupPacket bytes and at least 8.
Frame parse_startup_packet(ByteSpan in);

}  // namespace shardgate::protocol
