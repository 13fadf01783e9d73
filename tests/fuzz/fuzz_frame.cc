// Walks arbitrary bytes as a PostgreSQL stream: one startup-phase packet, then typed messages.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "protocol/frame.h"
#include "proxy/session/stream_scanner.h"

using namespace shardgate::protocol;
using shardgate::proxy::ScanAction;
using shardgate::proxy::ScannedFrame;
using shardgate::proxy::ScanResult;
using shardgate::proxy::StreamScanner;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The relays' frame walker over the same bytes arriving in reads of a few sizes, the callback
// streaming, waiting or stopping as the bytes say: every frame lies inside the input, a
// streamed message is announced exactly once and its rest adds up, and what is forwarded is
// never more than what arrived.
void scan_in_reads(ByteSpan all) {
  StreamScanner scanner;
  size_t done = 0;      // bytes forwarded so far
  size_t read_end = 0;  // bytes "received" so far
  size_t streamed = 0;  // bytes of the current streamed message announced so far
  size_t stream_total = 0;
  for (int reads = 0; reads < 64 && done < all.size(); ++reads) {
    size_t step = 1 + (all[read_end % all.size()] % 97) * 37;
    read_end = std::min(all.size(), read_end + step);
    ByteSpan in = all.subspan(done, read_end - done);
    ScanResult r = scanner.scan(in, [&](const ScannedFrame& f) {
      check(f.bytes.data() >= in.data() &&
            f.bytes.data() + f.bytes.size() <= in.data() + in.size());
      check(f.total >= 5 && f.bytes.size() <= f.total);
      if (f.rest) {
        streamed += f.bytes.size();
        check(f.total == stream_total && streamed <= stream_total);
        if (streamed == stream_total) stream_total = streamed = 0;  // all of it passed
        return ScanAction::kContinue;
      }
      check(f.bytes.size() >= 5 && f.type == static_cast<char>(f.bytes[0]));
      if (!f.whole()) {
        check(f.total > StreamScanner::kStreamThreshold);
        if (f.bytes[1] & 1) return ScanAction::kStopBefore;  // wait for it instead
        streamed = f.bytes.size();
        stream_total = f.total;
        return ScanAction::kContinue;
      }
      return (f.bytes[0] & 3) == 0 ? ScanAction::kStopAfter : ScanAction::kContinue;
    });
    check(r.forward <= in.size());
    done += r.forward;
    if (r.error) return;
    check((scanner.streaming_remaining() == 0) == (stream_total == 0));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  if (size > 0) scan_in_reads(in);

  // The startup packet, then whatever follows as typed messages.
  const Frame s = parse_startup_packet(in);
  if (s.status == FrameStatus::kFrame) {
    check(s.size >= 8 && s.size <= kMaxStartupPacket && s.size <= in.size());
    check(s.body.size() == s.size - 4 && s.body.data() == in.data() + 4);
    in = in.subspan(s.size);
  } else if (s.status == FrameStatus::kNeedMore) {
    check(s.needed == 0 || (s.needed > in.size() && s.needed <= kMaxStartupPacket));
  }

  // Small first byte of the remaining input picks a max_len to exercise that limit too.
  const size_t max_len = size > 0 && (data[0] & 1) ? 64 : kDefaultMaxMessage;
  while (!in.empty()) {
    const Header h = parse_header(in);
    const Frame f = parse_message(in, max_len);
    if (h.status == FrameStatus::kError) check(f.status == FrameStatus::kError);
    if (f.status != FrameStatus::kFrame) {
      if (f.status == FrameStatus::kNeedMore) {
        check(f.needed == 0 || f.needed > in.size());
        check(f.needed == 0 || f.needed == h.total);
      } else {
        check(!f.error.empty());
      }
      break;
    }
    check(h.status == FrameStatus::kFrame && h.total == f.size);
    check(f.size >= 5 && f.size <= in.size() && f.size - 5 <= max_len);
    check(f.body.size() == f.size - 5 && f.body.data() == in.data() + 5);
    check(f.type == static_cast<char>(in[0]));
    in = in.subspan(f.size);
  }
  return 0;
}
