#include "protocol/negotiation.h"

#include <variant>

namespace shardgate::protocol {

NegotiationStep classify_first_bytes(ByteSpan buffered, const NegotiationState& state,
                                     bool tls_available) {
  if (buffered.empty()) return {Negotiated::kNeedMore, {}};
  if (buffered[0] != kTlsHandshakeRecord || state.tls) return {Negotiated::kStartup, {}};
  // Direct TLS is only the very first thing on a connection.
  if (state.ssl_requested || state.gss_requested)
    return {Negotiated::kRefuse, "unexpected TLS handshake after encryption negotiation"};
  if (!tls_available) return {Negotiated::kClose, "direct TLS connection while TLS is off"};
  return {Negotiated::kDirectTls, {}};
}

NegotiationStep negotiate(const StartupPacket& packet, NegotiationState& state, bool tls_available,
                          bool more_buffered) {
  const bool ssl = std::holds_alternative<SslRequest>(packet);
  const bool gss = std::holds_alternative<GssEncRequest>(packet);
  if (!ssl && !gss) return {Negotiated::kStartup, {}};
  if (state.tls) return {Negotiated::kRefuse, "unexpected encryption negotiation inside TLS"};
  bool& again = ssl ? state.ssl_requested : state.gss_requested;
  if (again || more_buffered) return {Negotiated::kRefuse, "unexpected encryption negotiation"};
  again = true;
  if (gss) return {Negotiated::kDeclineGss, {}};
  if (!tls_available) return {Negotiated::kDeclineTls, {}};
  state.tls = true;
  return {Negotiated::kAcceptTls, {}};
}

}  // namespace shardgate::protocol
