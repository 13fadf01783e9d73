// The pre-startup negotiation over arbitrary client bytes, packet after packet, as the client
// session drives it: what to answer to SSLRequest / GSSENCRequest, when the bytes are a
// direct TLS ClientHello, when the startup packet is reached. Checks the rules that keep a
// connection from being talked into TLS twice or into reading injected plaintext.
#include <cstddef>
#include <cstdint>

#include "protocol/frame.h"
#include "protocol/negotiation.h"
#include "protocol/startup.h"

using namespace shardgate::protocol;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks whether this proxy has a certificate; the rest is the client.
  const bool tls_available = (data[0] & 1) != 0;
  ByteSpan in(data + 1, size - 1);
  NegotiationState state;
  int accepted = 0;
  for (int packets = 0; packets < 16; ++packets) {
    if (!state.tls) {
      const NegotiationStep first = classify_first_bytes(in, state, tls_available);
      if (first.action == Negotiated::kNeedMore) return 0;
      if (first.action == Negotiated::kDirectTls) {
        check(tls_available && !state.ssl_requested && !state.gss_requested && accepted == 0);
        return 0;  // TLS takes over the remaining bytes
      }
      if (first.action == Negotiated::kClose) {
        check(!tls_available);
        return 0;
      }
      if (first.action == Negotiated::kRefuse) {
        check(!first.error.empty());
        return 0;
      }
      check(first.action == Negotiated::kStartup);
    }
    const Frame frame = parse_startup_packet(in);
    if (frame.status != FrameStatus::kFrame) return 0;
    const StartupDecode decoded = decode_startup(frame.body);
    in = in.subspan(frame.size);
    if (!decoded.packet) return 0;
    const NegotiationState before = state;
    const NegotiationStep step = negotiate(*decoded.packet, state, tls_available, !in.empty());
    switch (step.action) {
      case Negotiated::kAcceptTls:
        check(tls_available && !before.tls && !before.ssl_requested && in.empty());
        check(state.tls && ++accepted == 1);
        // After 'S' the client speaks TLS; the fuzzer goes on as if the handshake ran.
        break;
      case Negotiated::kDeclineTls:
        check(!tls_available && !state.tls && in.empty());
        break;
      case Negotiated::kDeclineGss:
        check(!before.gss_requested && !state.tls && in.empty());
        break;
      case Negotiated::kRefuse:
        check(!step.error.empty());
        return 0;
      case Negotiated::kStartup:
        check(state.tls == before.tls);
        return 0;
      default:
        check(false);
    }
  }
  return 0;
}
