// A client connection's startup: negotiation (proxy/tls/negotiate_startup.h), cancel
// requests, and which plaintext connections the TLS settings refuse.
#include "pool/wire_io.h"
#include "proxy/session/client_session.h"
#include "proxy/tls/negotiate_startup.h"

namespace shardgate::proxy {

std::optional<routing::RouteError> ClientSession::tls_refusal(
    const config::UserConfig* user) const {
  if (client_.tls()) return std::nullopt;
  const config::TlsConfig& c = runtime_->config->tls;
  if (c.mode == config::TlsMode::kRequire)
    return routing::RouteError{
        "28000", "TLS is required: shardgate refuses connections without TLS (tls.mode: require)",
        "Connect with sslmode=require (or verify-ca, verify-full)."};
  if (user && user->require_tls)
    return routing::RouteError{"28000",
                               "TLS is required for user \"" + user->name +
                                   "\": shardgate refuses this user's connections without TLS",
                               "Connect with sslmode=require (or verify-ca, verify-full)."};
  return std::nullopt;
}

awaitable<std::optional<protocol::StartupMessage>> ClientSession::read_startup() {
  auto negotiated = co_await tls::negotiate_startup(client_, client_buf_, runtime_->client_tls());
  if (!negotiated.packet) {
    if (!negotiated.fatal.empty())
      co_await send_error("FATAL", "08P01", negotiated.fatal);
    else if (!negotiated.reason.empty())
      log_event(spdlog::level::info, "connection closed", &log_, {{"reason", negotiated.reason}});
    co_return std::nullopt;
  }
  if (client_.tls())
    log_event(spdlog::level::debug, "TLS established", &log_,
              {{"version", SSL_get_version(client_.tls()->ssl())},
               {"cipher", SSL_get_cipher_name(client_.tls()->ssl())}});
  auto& packet = *negotiated.packet;
  if (auto* cancel = std::get_if<protocol::CancelRequest>(&packet)) {
    if (auto target = services_.cancels.find(ClientKey{cancel->pid, cancel->secret})) {
      log_event(spdlog::level::debug, "forwarding cancel request", &log_);
      co_await pool::send_cancel(*target);
    }
    co_return std::nullopt;
  }
  if (auto refused = tls_refusal(nullptr)) {
    co_await send_fatal(*refused);
    co_return std::nullopt;
  }
  co_return std::get<protocol::StartupMessage>(std::move(packet));
}

}  // namespace shardgate::proxy
