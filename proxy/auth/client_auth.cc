#include "proxy/auth/client_auth.h"

#include <array>
#include <optional>

#include "pool/wire_io.h"
#include "protocol/auth.h"
#include "protocol/messages.h"
#include "proxy/tls/server_tls.h"

namespace shardgate::proxy {

namespace {

using protocol::Bytes;
using Kind = AuthOutcome::Kind;

constexpr size_t kMaxAuthMessage = 8192;

AuthOutcome failed(const std::string& user_name) {
  return {Kind::kFailed, "28P01", "password authentication failed for user \"" + user_name + "\""};
}
AuthOutcome protocol_error(std::string message) {
  return {Kind::kProtocolError, "08P01", std::move(message)};
}
AuthOutcome disconnected() { return {Kind::kDisconnected, "08006", "client disconnected"}; }

enum class Expect { kPassword, kSaslInitial, kSaslResponse };

// Reads the client's next 'p' message body into `out`.
awaitable<std::optional<AuthOutcome>> read_password_message(Stream& socket, ReadBuffer& buffer,
                                                            std::string& out, Expect expect,
                                                            std::string* mechanism) {
  auto [ec, frame] = co_await read_message(socket, buffer, kMaxAuthMessage);
  if (ec) co_return disconnected();
  if (frame.status != protocol::FrameStatus::kFrame || frame.type != protocol::fe::kPassword) {
    co_return protocol_error("expected a password message during authentication");
  }
  std::optional<AuthOutcome> error;
  if (expect == Expect::kSaslInitial) {
    auto init = protocol::decode_sasl_initial_response(frame.body);
    if (!init || !init->data) {
      error = protocol_error("malformed SASLInitialResponse");
    } else {
      *mechanism = init->mechanism;
      out = *init->data;
    }
  } else {
    auto body = expect == Expect::kPassword ? protocol::decode_password(frame.body)
                                            : protocol::decode_sasl_response(frame.body);
    if (!body)
      error = protocol_error("malformed password message");
    else
      out = *body;
  }
  buffer.consume(frame.size);
  co_return error;
}

awaitable<AuthOutcome> run_scram(Stream& socket, ReadBuffer& buffer,
                                 const protocol::ScramVerifier& verifier, bool known_user,
                                 const std::string& user_name, Bytes& reply) {
  // Over TLS, SCRAM-SHA-256-PLUS binds the exchange to the certificate this connection
  // presented, so a man in the middle holding another certificate cannot relay it.
  std::string binding = socket.tls() ? tls::server_end_point(socket.tls()->ssl()) : std::string();
  std::vector<std::string> mechanisms;
  if (!binding.empty()) mechanisms.emplace_back(protocol::kScramPlusMechanism);
  mechanisms.emplace_back(protocol::kScramMechanism);
  Bytes out;
  protocol::encode_auth_sasl(out, mechanisms);
  if (co_await write_bytes(socket, out, Send::kAtOnce)) co_return disconnected();

  std::string message, mechanism, error;
  if (auto e =
          co_await read_password_message(socket, buffer, message, Expect::kSaslInitial, &mechanism))
    co_return *e;
  const bool plus = mechanism == protocol::kScramPlusMechanism && !binding.empty();
  if (mechanism != protocol::kScramMechanism && !plus)
    co_return protocol_error("client selected an unsupported SASL mechanism");
  protocol::ScramServer server(verifier, protocol::scram_nonce(), std::move(binding), plus);
  auto first = server.client_first(message, &error);
  if (!first) co_return protocol_error("malformed SCRAM message: " + error);
  out.clear();
  protocol::encode_auth_sasl_continue(out, *first);
  if (co_await write_bytes(socket, out, Send::kAtOnce)) co_return disconnected();

  if (auto e =
          co_await read_password_message(socket, buffer, message, Expect::kSaslResponse, nullptr))
    co_return *e;
  auto final_msg = server.client_final(message, &error);
  if (!final_msg || !known_user) co_return failed(user_name);
  protocol::encode_auth_sasl_final(reply, *final_msg);
  protocol::encode_auth_ok(reply);
  co_return AuthOutcome{};
}

// libpq salts the md5 answer with the user name it sent (e.g. "app.acme"), so the hash is
// computed from that name. A password stored as an md5 hash only matches its own user name.
awaitable<AuthOutcome> run_md5(Stream& socket, ReadBuffer& buffer, const config::UserConfig& user,
                               const std::string& startup_user, Bytes& reply) {
  std::array<uint8_t, 4> salt;
  protocol::random_bytes(salt.data(), salt.size());
  Bytes out;
  protocol::encode_auth_md5(out, salt);
  if (co_await write_bytes(socket, out, Send::kAtOnce)) co_return disconnected();
  std::string response;
  if (auto e = co_await read_password_message(socket, buffer, response, Expect::kPassword, nullptr))
    co_return *e;
  std::string stored = config::is_md5_hash(user.password)
                           ? user.password
                           : protocol::md5_stored_hash(startup_user, user.password);
  if (config::is_md5_hash(user.password) && startup_user != user.name) {
    co_return AuthOutcome{Kind::kFailed, "28P01",
                          "password authentication failed for user \"" + user.name +
                              "\": a password stored as an md5 hash cannot check the name \"" +
                              startup_user +
                              "\"; pass the tenant in options, or store the "
                              "password in plain text or as a SCRAM verifier"};
  }
  if (!protocol::md5_response_matches(response, stored, salt)) co_return failed(user.name);
  protocol::encode_auth_ok(reply);
  co_return AuthOutcome{};
}

bool plain_matches(const config::UserConfig& user, const std::string& given) {
  // An empty hash (MD5 unavailable) cannot equal the stored one, which is 35 bytes.
  if (config::is_md5_hash(user.password))
    return protocol::secure_equal(protocol::md5_stored_hash(user.name, given), user.password);
  if (auto v = protocol::parse_scram_verifier(user.password)) {
    auto computed = protocol::make_scram_verifier(given, v->salt, v->iterations);
    return computed.stored_key == v->stored_key;
  }
  return protocol::secure_equal(given, user.password);
}

awaitable<AuthOutcome> run_plain(Stream& socket, ReadBuffer& buffer, const config::UserConfig& user,
                                 Bytes& reply) {
  Bytes out;
  protocol::encode_auth_cleartext(out);
  if (co_await write_bytes(socket, out, Send::kAtOnce)) co_return disconnected();
  std::string given;
  if (auto e = co_await read_password_message(socket, buffer, given, Expect::kPassword, nullptr))
    co_return *e;
  if (!plain_matches(user, given)) co_return failed(user.name);
  protocol::encode_auth_ok(reply);
  co_return AuthOutcome{};
}

}  // namespace

awaitable<AuthOutcome> authenticate_client(Stream& socket, ReadBuffer& buffer,
                                           const config::UserConfig* user,
                                           const std::string& user_name,
                                           const std::string& startup_user, const Runtime& runtime,
                                           Bytes& reply) {
  if (!user) {
    // Run a SCRAM exchange against a throwaway verifier so unknown names look like bad passwords.
    std::string nonce = protocol::scram_nonce();
    auto verifier = protocol::make_scram_verifier(nonce, "unknown-user-salt", 4096);
    co_return co_await run_scram(socket, buffer, verifier, false, user_name, reply);
  }
  switch (user->method) {
    case config::AuthMethod::kTrust:
      protocol::encode_auth_ok(reply);
      co_return AuthOutcome{};
    case config::AuthMethod::kMd5:
      co_return co_await run_md5(socket, buffer, *user, startup_user, reply);
    case config::AuthMethod::kPlain:
      co_return co_await run_plain(socket, buffer, *user, reply);
    case config::AuthMethod::kScramSha256:
      break;
  }
  if (auto parsed = protocol::parse_scram_verifier(user->password))
    co_return co_await run_scram(socket, buffer, *parsed, true, user_name, reply);
  auto it = runtime.scram_verifiers.find(user->name);
  if (it == runtime.scram_verifiers.end()) co_return failed(user_name);
  co_return co_await run_scram(socket, buffer, it->second, true, user_name, reply);
}

}  // namespace shardgate::proxy
