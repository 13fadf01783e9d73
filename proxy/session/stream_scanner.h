// Walks the message boundaries of a PostgreSQL byte stream as it is relayed, so the relay
// can look at each message (type, body) without copying or buffering whole results. Small
// messages are handed over whole; a message larger than the stream threshold may be passed
// through in pieces as it arrives (bounded memory for huge rows and COPY data). The one
// frame walker of every relay path. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/bytes.h"
#include "protocol/frame.h"

namespace shardgate::proxy {

enum class ScanAction {
  kContinue,    // forward this message and go on
  kStopBefore,  // do not forward this message; stop (it stays in the buffer)
  kStopAfter,   // forward this message, then stop
};

// One message as the scanner meets it.
struct ScannedFrame {
  char type = 0;
  // The message, header included; for a message being streamed, what has arrived of it.
  protocol::ByteSpan bytes;
  size_t total = 0;   // the whole message's length, header included
  bool rest = false;  // `bytes` continue a message streamed by an earlier scan (action ignored)
  bool whole() const { return !rest && bytes.size() == total; }
  protocol::ByteSpan body() const { return bytes.subspan(5); }  // whole messages only
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

  // Scans `in` (the unconsumed bytes), calling on_message(const ScannedFrame&) -> ScanAction
  // for each message found: whole, or (larger than the threshold and not all there) partial.
  // Continuing past a partial message streams it: the rest of its bytes are forwarded as they
  // come, announced as `rest` frames. Stopping before it waits for more of it.
  template <typename OnMessage>
  ScanResult scan(protocol::ByteSpan in, OnMessage&& on_message);

  // Bytes of a streamed message still to come.
  size_t streaming_remaining() const { return remaining_; }

 private:
  size_t remaining_ = 0;
  char streaming_type_ = 0;
  size_t streaming_total_ = 0;
};

template <typename OnMessage>
ScanResult StreamScanner::scan(protocol::ByteSpan in, OnMessage&& on_message) {
  ScanResult r;
  size_t pos = 0;
  if (remaining_ > 0) {
    pos = remaining_ < in.size() ? remaining_ : in.size();
    remaining_ -= pos;
    on_message(ScannedFrame{streaming_type_, in.first(pos), streaming_total_, true});
    if (remaining_ > 0) {
      r.forward = pos;
      return r;
    }
  }
  while (in.size() - pos >= 5) {
    protocol::Header header = protocol::parse_header(in.subspan(pos));
    if (header.status == protocol::FrameStatus::kError) {
      r.error = true;
      break;
    }
    size_t available = in.size() - pos;
    if (header.total > available && header.total <= kStreamThreshold) break;  // wait
    size_t size = header.total < available ? header.total : available;
    ScanAction a = on_message(ScannedFrame{header.type, in.subspan(pos, size), header.total});
    if (a == ScanAction::kStopBefore) {
      r.stopped = true;
      break;
    }
    pos += size;
    if (size < header.total) {  // streamed from here on
      remaining_ = header.total - size;
      streaming_type_ = header.type;
      streaming_total_ = header.total;
      r.stopped = a == ScanAction::kStopAfter;
      break;
    }
    if (a == ScanAction::kStopAfter) {
      r.stopped = true;
      break;
    }
  }
  r.forward = pos;
  return r;
}

}  // namespace shardgate::proxy
