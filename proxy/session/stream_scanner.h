// Walks the message boundaries of a PostgreSQL byte stream as it is relayed, so the relay
// can watch message types (Terminate, ReadyForQuery, ...) without copying or buffering whole
// results. Small messages are handed over whole; a message larger than the stream threshold
// is passed through in pieces as it arrives (bounded memory for huge rows and COPY data).
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/bytes.h"

namespace shardgate::proxy {

enum class ScanAction {
  kContinue,    // forward this message and go on
  kStopBefore,  // do not forward this message; stop (it stays in the buffer)
  kStopAfter,   // forward this message, then stop
};

struct ScanResult {
  size_t forward = 0;    // bytes at the front of the input to forward now
  bool stopped = false;  // a callback asked to stop
  bool error = false;    // a malformed header: the peer broke the protocol
};

class StreamScanner {
 public:
  // Messages up to this size are always delivered whole (body available to the callback).
  static constexpr size_t kStreamThreshold = 64 * 1024;

  // Scans `in` (the unconsumed bytes). For each message found, calls
  // on_message(char type, protocol::ByteSpan body, bool whole) -> ScanAction, where `whole`
  // is false for a large message being streamed (body empty then).
  template <typename OnMessage>
  ScanResult scan(protocol::ByteSpan in, OnMessage&& on_message);

  // Bytes of a streamed message still to come.
  size_t streaming_remaining() const { return remaining_; }

 private:
  size_t remaining_ = 0;
};

template <typename OnMessage>
ScanResult StreamScanner::scan(protocol::ByteSpan in, OnMessage&& on_message) {
  ScanResult r;
  size_t pos = 0;
  if (remaining_ > 0) {
    size_t take = remaining_ < in.size() ? remaining_ : in.size();
    remaining_ -= take;
    pos = take;
    if (remaining_ > 0) {
      r.forward = pos;
      return r;
    }
  }
  while (in.size() - pos >= 5) {
    const uint8_t* p = in.data() + pos;
    int32_t len = protocol::read_i32(p + 1);
    if (len < 4) {
      r.error = true;
      break;
    }
    size_t total = size_t(len) + 1;
    size_t available = in.size() - pos;
    if (total > available) {
      if (total <= kStreamThreshold) break;  // wait for the rest
      ScanAction a = on_message(static_cast<char>(p[0]), protocol::ByteSpan{}, false);
      if (a == ScanAction::kStopBefore) {
        r.stopped = true;
        break;
      }
      remaining_ = total - available;
      pos = in.size();
      break;
    }
    ScanAction a = on_message(static_cast<char>(p[0]), in.subspan(pos + 5, total - 5), true);
    if (a == ScanAction::kStopBefore) {
      r.stopped = true;
      break;
    }
    pos += total;
    if (a == ScanAction::kStopAfter) {
      r.stopped = true;
      break;
    }
  }
  r.forward = pos;
  return r;
}

}  // namespace shardgate::proxy
