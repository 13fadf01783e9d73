#include "protocol/frame.h"

namespace shardgate::protocol {

Header parse_header(ByteSpan in) {
  Header h;
  if (in.size() < 5) {
    h.status = FrameStatus::kNeedMore;
    return h;
  }
  h.type = static_cast<char>(in[0]);
  const int32_t len = read_i32(in.data() + 1);
  if (len < 4) {
    h.status = FrameStatus::kError;
    h.error = "message length below 4";
    return h;
  }
  if (static_cast<size_t>(len) > kMaxDeclaredMessage) {
    h.status = FrameStatus::kError;
    h.error = "message length above the 1 GB limit";
    return h;
  }
  h.status = FrameStatus::kFrame;
  h.total = 1 + static_cast<size_t>(len);
  return h;
}

Frame parse_message(ByteSpan in, size_t max_len) {
  Frame f;
  const Header h = parse_header(in);
  if (h.status != FrameStatus::kFrame) {
    f.status = h.status;
    f.error = h.error;
    return f;
  }
  f.type = h.type;
  if (h.total - 1 > max_len) {
    f.status = FrameStatus::kError;
    f.error = "message length above the configured limit";
    return f;
  }
  if (in.size() < h.total) {
    f.status = FrameStatus::kNeedMore;
    f.needed = h.total;
    return f;
  }
  f.status = FrameStatus::kFrame;
  f.body = in.subspan(5, h.total - 5);
  f.size = h.total;
  return f;
}

Frame parse_startup_packet(ByteSpan in) {
  Frame f;
  if (in.size() < 4) {
    f.status = FrameStatus::kNeedMore;
    return f;
  }
  const int32_t len = read_i32(in.data());
  if (len < 8) {
    f.status = FrameStatus::kError;
    f.error = "startup packet length below 8";
    return f;
  }
  if (static_cast<size_t>(len) > kMaxStartupPacket) {
    f.status = FrameStatus::kError;
    f.error = "startup packet length above 10000";
    return f;
  }
  const auto total = static_cast<size_t>(len);
  if (in.size() < total) {
    f.status = FrameStatus::kNeedMore;
    f.needed = total;
    return f;
  }
  f.status = FrameStatus::kFrame;
  f.body = in.subspan(4, total - 4);
  f.size = total;
  return f;
}

}  // namespace shardgate::protocol
