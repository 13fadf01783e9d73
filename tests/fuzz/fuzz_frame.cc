// Walks arbitrary bytes as a PostgreSQL stream: one startup-phase packet, then typed messages.
#include <cstddef>
#include <cstdint>

#include "protocol/frame.h"

using namespace shardgate::protocol;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);

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
