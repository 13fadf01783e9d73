// The pre-startup negotiation of a client connection, as a pure decision: what to answer to
// SSLRequest and GSSENCRequest, whether the first bytes are a direct TLS ClientHello
// (PostgreSQL 17's sslnegotiation=direct), and when the startup packet may be read.
#pragma once

#include <string_view>

#include "protocol/bytes.h"
#include "protocol/startup.h"

namespace shardgate::protocol {

// A TLS record of type handshake starts with this byte; no startup packet does (its first
// byte is the top byte of a length far below 16 MB).
inline constexpr uint8_t kTlsHandshakeRecord = 0x16;

struct NegotiationState {
  bool ssl_requested = false;
  bool gss_requested = false;
  bool tls = false;  // TLS is running (after 'S' or a direct ClientHello)
};

enum class Negotiated {
  kNeedMore,    // not enough bytes to decide
  kDirectTls,   // the buffered bytes are a ClientHello: start TLS on them
  kAcceptTls,   // answer 'S', then run the TLS handshake
  kDeclineTls,  // answer 'N' to SSLRequest
  kDeclineGss,  // answer 'N' to GSSENCRequest
  kStartup,     // a startup packet (or a cancel request) to act on
  kRefuse,      // FATAL 08P01 with `error`
  kClose,       // close without an answer (a direct ClientHello while TLS is off)
};

struct NegotiationStep {
  Negotiated action = Negotiated::kNeedMore;
  std::string_view error;
};

// Looks at the first bytes of the connection, before any packet was read: a direct TLS
// ClientHello, or something to read as a startup packet.
NegotiationStep classify_first_bytes(ByteSpan buffered, const NegotiationState& state,
                                     bool tls_available);

// Decides the answer to one decoded pre-startup packet and updates `state`. `more_buffered`:
// the client sent bytes after an encryption request before its answer, which could be
// injected plaintext; such a connection is refused.
NegotiationStep negotiate(const StartupPacket& packet, NegotiationState& state, bool tls_available,
                          bool more_buffered);

}  // namespace shardgate::protocol
