// decode_startup over arbitrary bodies; accepted packets must re-encode to what was decoded.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "protocol/frame.h"
#include "protocol/startup.h"

using namespace shardgate::protocol;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const StartupDecode d = decode_startup(ByteSpan(data, size));
  if (!d.packet) {
    check(!d.error.empty());
    return 0;
  }
  Bytes out;
  if (const auto* m = std::get_if<StartupMessage>(&*d.packet)) {
    check(m->params.size() <= kMaxStartupParams);
    check(m->get("user") != nullptr && !m->get("user")->empty());
    encode_startup(out, *m);
  } else if (const auto* c = std::get_if<CancelRequest>(&*d.packet)) {
    encode_cancel_request(out, *c);
  } else if (std::holds_alternative<SslRequest>(*d.packet)) {
    encode_ssl_request(out);
  } else {
    return 0;
  }
  // Round trip: the encoded packet frames whole and its body is byte-identical to the input.
  const Frame f = parse_startup_packet(out);
  check(f.status == FrameStatus::kFrame && f.size == out.size());
  check(f.body.size() == size);
  for (size_t i = 0; i < size; ++i) check(f.body[i] == data[i]);
  return 0;
}
