#include "proxy/tls/negotiate_startup.h"

#include "pool/wire_io.h"
#include "protocol/frame.h"
#include "protocol/negotiation.h"

namespace shardgate::proxy::tls {

namespace {

using protocol::Negotiated;

NegotiatedStartup fatal(std::string message) { return {std::nullopt, std::move(message), {}}; }
NegotiatedStartup closed(std::string reason) { return {std::nullopt, {}, std::move(reason)}; }

// The handshake after 'S' or on a direct ClientHello already in `buf`; the reason on failure.
awaitable<std::optional<std::string>> start_tls(Stream& stream, ReadBuffer& buf,
                                                const ServerTls& tls, bool direct) {
  SSL* ssl = tls.accept_session();
  if (!ssl) co_return std::string("cannot create a TLS session");
  auto link = std::make_unique<TlsLink>(ssl);
  TlsLink& handshake = *link;
  if (direct) {
    handshake.seed(buf.data());
    buf.consume(buf.size());
  }
  stream.start_tls(std::move(link));
  error_code failed = co_await handshake.handshake(stream.socket());
  if (failed) co_return "TLS handshake failed: " + handshake.error();
  if (direct && !negotiated_postgresql_alpn(handshake.ssl()))
    co_return std::string("direct TLS connection without ALPN \"postgresql\" refused");
  co_return std::nullopt;
}

}  // namespace

awaitable<NegotiatedStartup> negotiate_startup(Stream& stream, ReadBuffer& buf,
                                               const ServerTls* tls) {
  protocol::NegotiationState state;
  for (;;) {
    if (!stream.tls()) {
      error_code ec = co_await read_at_least(stream, buf, 1);
      if (ec) co_return closed({});
      auto first = protocol::classify_first_bytes(buf.data(), state, tls != nullptr);
      if (first.action == Negotiated::kClose) co_return closed(std::string(first.error));
      if (first.action == Negotiated::kRefuse) co_return fatal(std::string(first.error));
      if (first.action == Negotiated::kDirectTls) {
        state.tls = true;
        auto failed = co_await start_tls(stream, buf, *tls, true);
        if (failed) co_return closed(*failed);
        continue;
      }
    }
    auto [ec, frame] = co_await read_startup_packet(stream, buf);
    if (ec) co_return closed({});
    if (frame.status == protocol::FrameStatus::kError)
      co_return fatal("invalid startup packet: " + std::string(frame.error));
    auto decoded = protocol::decode_startup(frame.body);
    buf.consume(frame.size);
    if (!decoded.packet) co_return fatal("invalid startup packet: " + decoded.error);
    auto step = protocol::negotiate(*decoded.packet, state, tls != nullptr, !buf.empty());
    if (step.action == Negotiated::kRefuse) co_return fatal(std::string(step.error));
    if (step.action == Negotiated::kStartup)
      co_return NegotiatedStartup{std::move(decoded.packet), {}, {}};
    const uint8_t answer = step.action == Negotiated::kAcceptTls ? 'S' : 'N';
    error_code wec = co_await write_bytes(stream, protocol::ByteSpan(&answer, 1), Send::kAtOnce);
    if (wec) co_return closed({});
    if (answer == 'S') {
      auto failed = co_await start_tls(stream, buf, *tls, false);
      if (failed) co_return closed(*failed);
    }
  }
}

}  // namespace shardgate::proxy::tls
