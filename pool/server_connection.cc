#include "pool/server_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <optional>

#include "pool/wire_io.h"
#include "protocol/auth.h"
#include "protocol/messages.h"
#include "protocol/startup.h"

namespace shardgate::pool {

namespace {

using namespace asio::experimental::awaitable_operators;
using protocol::Bytes;

ServerResult unreachable(const ConnectTarget& t, std::string_view why) {
  return {ServerResult::Kind::kUnreachable, "08006",
          "could not connect to shard \"" + t.shard + "\" at " + t.host + ":" +
              std::to_string(t.port) + ": " + std::string(why)};
}

ServerResult from_error(ServerResult::Kind kind, protocol::ByteSpan body) {
  auto fields = protocol::decode_error_fields(body);
  if (!fields) return {kind, "08P01", "malformed error from server"};
  return {kind, fields->sqlstate(), fields->message()};
}

}  // namespace

awaitable<ServerResult> ServerConnection::connect(const ConnectTarget& target,
                                                  std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  timer.expires_after(timeout);
  auto work = [this, &target]() -> awaitable<ServerResult> {
    tcp::resolver resolver(stream_.socket().get_executor());
    auto [rec, endpoints] =
        co_await resolver.async_resolve(target.host, std::to_string(target.port), use_nothrow);
    if (rec) co_return unreachable(target, rec.message());
    auto [cec, ep] = co_await asio::async_connect(stream_.socket(), endpoints, use_nothrow);
    (void)ep;
    if (cec) co_return unreachable(target, cec.message());
    stream_.socket().set_option(tcp::no_delay(true));
    apply_keepalive(stream_.socket(), target.keepalive);
    cancel_.host = target.host;
    cancel_.port = target.port;
    if (target.tls && target.tls->mode != SslMode::kDisable) {
      ServerResult tls = co_await negotiate_tls(target);
      if (!tls.ok()) co_return tls;
    }
    co_return co_await startup(target);
  };
  auto outcome = co_await (work() || timer.async_wait(use_nothrow));
  if (outcome.index() == 1) {
    close();
    co_return unreachable(target, "timed out after " + std::to_string(timeout.count()) + " ms");
  }
  ServerResult r = std::get<0>(std::move(outcome));
  if (!r.ok()) close();
  co_return r;
}

awaitable<ServerResult> ServerConnection::startup(const ConnectTarget& target) {
  protocol::StartupMessage m;
  m.params.emplace_back("user", target.user);
  m.params.emplace_back("database", target.database);
  for (const auto& p : target.params) m.params.push_back(p);
  Bytes out;
  protocol::encode_startup(out, m);
  if (auto ec = co_await write_bytes(stream_, out)) co_return unreachable(target, ec.message());
  co_return co_await authenticate(target);
}

awaitable<ServerResult> ServerConnection::authenticate(const ConnectTarget& target) {
  std::optional<protocol::ScramClient> scram;
  for (;;) {
    auto [ec, frame] = co_await read_message(stream_, buffer_, 1 << 20);
    if (ec) co_return unreachable(target, ec.message());
    if (frame.status != protocol::FrameStatus::kFrame)
      co_return ServerResult{ServerResult::Kind::kRefused, "08P01",
                             "shard sent a malformed message during authentication"};
    char type = frame.type;
    if (type == protocol::be::kErrorResponse) {
      auto r = from_error(ServerResult::Kind::kRefused, frame.body);
      buffer_.consume(frame.size);
      co_return r;
    }
    if (type != protocol::be::kAuthentication) {
      if (type == protocol::be::kNegotiateProtocolVersion) {
        buffer_.consume(frame.size);
        continue;
      }
      co_return ServerResult{
          ServerResult::Kind::kRefused, "08P01",
          std::string("unexpected message '") + type + "' during authentication"};
    }
    auto req = protocol::decode_auth_request(frame.body);
    buffer_.consume(frame.size);
    if (!req)
      co_return ServerResult{ServerResult::Kind::kRefused, "08P01",
                             "malformed authentication request"};
    Bytes out;
    std::string error;
    switch (req->code) {
      case protocol::AuthCode::kOk:
        co_return co_await read_until_ready();
      case protocol::AuthCode::kCleartextPassword:
        protocol::encode_password(out, target.password);
        break;
      case protocol::AuthCode::kMd5Password:
        protocol::encode_password(
            out, protocol::md5_password_response(target.user, target.password, req->md5_salt));
        break;
      case protocol::AuthCode::kSasl: {
        bool offered = false;
        for (const auto& mech : req->sasl_mechanisms) offered |= mech == protocol::kScramMechanism;
        if (!offered)
          co_return ServerResult{ServerResult::Kind::kRefused, "28000",
                                 "shard offers no SASL mechanism shardgate supports"};
        scram.emplace(target.password, protocol::scram_nonce());
        protocol::encode_sasl_initial_response(out, protocol::kScramMechanism,
                                               scram->client_first());
        break;
      }
      case protocol::AuthCode::kSaslContinue: {
        if (!scram)
          co_return ServerResult{ServerResult::Kind::kRefused, "08P01", "unexpected SASLContinue"};
        auto final_msg = scram->server_first(req->data, &error);
        if (!final_msg)
          co_return ServerResult{ServerResult::Kind::kRefused, "28000", "SCRAM: " + error};
        protocol::encode_sasl_response(out, *final_msg);
        break;
      }
      case protocol::AuthCode::kSaslFinal:
        if (!scram || !scram->server_final(req->data, &error))
          co_return ServerResult{ServerResult::Kind::kRefused, "28000",
                                 "SCRAM: the shard's signature did not verify: " + error};
        continue;
      default:
        co_return ServerResult{
            ServerResult::Kind::kRefused, "28000",
            "shard asks for an authentication method shardgate does not support (code " +
                std::to_string(static_cast<int>(req->code)) + ")"};
    }
    if (auto wec = co_await write_bytes(stream_, out)) co_return unreachable(target, wec.message());
  }
}

awaitable<ServerResult> ServerConnection::read_until_ready() {
  for (;;) {
    auto [ec, frame] = co_await read_message(stream_, buffer_, 1 << 20);
    if (ec) co_return ServerResult{ServerResult::Kind::kUnreachable, "08006", ec.message()};
    if (frame.status != protocol::FrameStatus::kFrame)
      co_return ServerResult{ServerResult::Kind::kRefused, "08P01", "malformed message from shard"};
    switch (frame.type) {
      case protocol::be::kParameterStatus:
        if (auto p = protocol::decode_parameter_status(frame.body))
          set_parameter(p->first, p->second);
        break;
      case protocol::be::kBackendKeyData:
        if (auto k = protocol::decode_backend_key_data(frame.body)) {
          cancel_.pid = k->first;
          cancel_.secret = k->second;
        }
        break;
      case protocol::be::kErrorResponse: {
        auto r = from_error(ServerResult::Kind::kRefused, frame.body);
        buffer_.consume(frame.size);
        co_return r;
      }
      case protocol::be::kReadyForQuery:
        if (auto s = protocol::decode_ready_for_query(frame.body)) status_ = *s;
        buffer_.consume(frame.size);
        co_return ServerResult{};
      default:
        break;  // NoticeResponse and others are dropped during startup
    }
    buffer_.consume(frame.size);
  }
}

awaitable<ServerResult> ServerConnection::run(std::string_view sql,
                                              std::chrono::milliseconds timeout) {
  Bytes out;
  protocol::encode_query(out, sql);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  timer.expires_after(timeout);
  auto work = [this, &out]() -> awaitable<ServerResult> {
    if (auto ec = co_await write_bytes(stream_, out))
      co_return ServerResult{ServerResult::Kind::kUnreachable, "08006", ec.message()};
    std::optional<ServerResult> first_error;
    for (;;) {
      auto [ec, frame] = co_await read_message(stream_, buffer_);
      if (ec) co_return ServerResult{ServerResult::Kind::kUnreachable, "08006", ec.message()};
      if (frame.status != protocol::FrameStatus::kFrame)
        co_return ServerResult{ServerResult::Kind::kRefused, "08P01",
                               "malformed message from shard"};
      if (frame.type == protocol::be::kErrorResponse && !first_error)
        first_error = from_error(ServerResult::Kind::kStatementFailed, frame.body);
      if (frame.type == protocol::be::kParameterStatus) {
        if (auto p = protocol::decode_parameter_status(frame.body))
          set_parameter(p->first, p->second);
      }
      bool ready = frame.type == protocol::be::kReadyForQuery;
      if (ready)
        if (auto s = protocol::decode_ready_for_query(frame.body)) status_ = *s;
      buffer_.consume(frame.size);
      if (ready) co_return first_error ? *first_error : ServerResult{};
    }
  };
  auto outcome = co_await (work() || timer.async_wait(use_nothrow));
  if (outcome.index() == 1) {
    close();
    co_return ServerResult{ServerResult::Kind::kUnreachable, "08006", "statement timed out"};
  }
  co_return std::get<0>(std::move(outcome));
}

awaitable<void> ServerConnection::terminate() {
  if (!stream_.socket().is_open()) co_return;
  Bytes out;
  protocol::encode_terminate(out);
  co_await write_bytes(stream_, out);
  close();
}

bool ServerConnection::looks_alive() {
  if (!stream_.socket().is_open() || !buffer_.empty()) return false;
  if (stream_.tls() && SSL_pending(stream_.tls()->ssl()) > 0) return false;
  char byte;
  ssize_t n = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void ServerConnection::set_parameter(std::string_view name, std::string_view value) {
  for (auto& kv : params_) {
    if (kv.first == name) {
      kv.second = value;
      return;
    }
  }
  params_.emplace_back(name, value);
}

const std::string* ServerConnection::parameter(std::string_view name) const {
  for (const auto& kv : params_)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

void ServerConnection::close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

awaitable<void> send_cancel(const CancelTarget& target) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  tcp::resolver resolver(executor);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(target.host, std::to_string(target.port), use_nothrow);
  if (rec) co_return;
  auto [cec, ep] = co_await asio::async_connect(socket, endpoints, use_nothrow);
  (void)ep;
  if (cec) co_return;
  Bytes out;
  protocol::encode_cancel_request(out, protocol::CancelRequest{target.pid, target.secret});
  co_await write_bytes(socket, out);
  // The server closes the connection once it has read the request.
  char byte;
  co_await socket.async_read_some(asio::buffer(&byte, 1), use_nothrow);
}

}  // namespace shardgate::pool
