// The pre-startup phase of a client connection, shared by client sessions and the admin TCP
// listener: SSLRequest ('S' with a certificate, 'N' without), GSSENCRequest ('N'), direct
// TLS (ALPN "postgresql"), then the first packet that is not a negotiation.
#pragma once

#include <optional>
#include <string>

#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"
#include "protocol/startup.h"
#include "proxy/tls/server_tls.h"

namespace shardgate::proxy::tls {

struct NegotiatedStartup {
  // A StartupMessage or a CancelRequest; empty when the connection must end.
  std::optional<protocol::StartupPacket> packet;
  // Why it ends: `fatal` set = send FATAL 08P01 with it; otherwise just close (`reason`
  // for the log; empty when the client simply went away).
  std::string fatal;
  std::string reason;
};

// Reads and answers negotiation packets on `stream` until a startup packet or cancel request
// arrives; turns TLS on in `stream` when agreed. `tls` null = no certificate (answer 'N').
awaitable<NegotiatedStartup> negotiate_startup(Stream& stream, ReadBuffer& buf,
                                               const ServerTls* tls);

}  // namespace shardgate::proxy::tls
