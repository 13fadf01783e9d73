// Password authentication math: SCRAM-SHA-256 (RFC 5802/7677, both sides) and MD5.
// Pure functions over strings; uses OpenSSL's hashes only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shardgate::protocol {

inline constexpr std::string_view kScramMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kScramPlusMechanism = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kChannelBindingType = "tls-server-end-point";

// A stored SCRAM secret, as PostgreSQL keeps it in pg_authid:
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>".
struct ScramVerifier {
  int iterations = 4096;
  std::string salt;  // raw bytes
  std::array<uint8_t, 32> stored_key{};
  std::array<uint8_t, 32> server_key{};
};
std::optional<ScramVerifier> parse_scram_verifier(std::string_view text);
ScramVerifier make_scram_verifier(std::string_view password, std::string_view salt,
                                  int iterations = 4096);
std::string format_scram_verifier(const ScramVerifier& v);

// Random printable nonce (base64 of 18 random bytes) and random bytes for salts and keys.
std::string scram_nonce();
void random_bytes(uint8_t* out, size_t n);

// Server side: shardgate authenticating a client against a verifier.
class ScramServer {
 public:
  // `channel_binding`: the connection's tls-server-end-point data when it runs over TLS (then
  // SCRAM-SHA-256-PLUS is on offer, and a client saying "y" is refused as a downgrade);
  // `plus`: the client selected SCRAM-SHA-256-PLUS.
  ScramServer(ScramVerifier verifier, std::string server_nonce, std::string channel_binding = {},
              bool plus = false);
  // client-first-message -> server-first-message; nullopt with *error on bad input.
  std::optional<std::string> client_first(std::string_view message, std::string* error);
  // client-final-message -> server-final-message ("v=..."); nullopt with *error when the
  // proof is wrong or the message is malformed.
  std::optional<std::string> client_final(std::string_view message, std::string* error);

 private:
  ScramVerifier verifier_;
  std::string server_nonce_;
  std::string client_first_bare_, server_first_, nonce_;
  bool got_first_ = false;
  std::string channel_binding_;
  bool plus_ = false;
  // The gs2 header the client sent ("n,,", "y,,", "p=tls-server-end-point,,"): the final
  // message's c= must repeat it, followed by the binding data for "p".
  std::string gs2_header_;
};

// Client side: shardgate authenticating to a PostgreSQL server with a password.
class ScramClient {
 public:
  // With `channel_binding` (tls-server-end-point data) the exchange is SCRAM-SHA-256-PLUS.
  ScramClient(std::string password, std::string client_nonce, std::string channel_binding = {});
  std::string client_first() const;  // "n,,n=,r=<nonce>" (or "p=tls-server-end-point,,...")
  // server-first-message -> client-final-message; nullopt with *error.
  std::optional<std::string> server_first(std::string_view message, std::string* error);
  // Checks the server's signature in server-final-message.
  bool server_final(std::string_view message, std::string* error) const;

 private:
  std::string gs2_header() const;
  std::string password_, client_nonce_, channel_binding_;
  std::array<uint8_t, 32> server_signature_{};
  bool have_signature_ = false;  // server_first() succeeded; server_final() may check
};

// "md5" + hex(md5(hex(md5(password + user)) + salt)), as PostgreSQL's md5 method expects.
std::string md5_password_response(std::string_view user, std::string_view password,
                                  std::array<uint8_t, 4> salt);
// Same, starting from a stored "md5<hex>" hash of password+user.
std::string md5_response_from_hash(std::string_view stored_md5_hash, std::array<uint8_t, 4> salt);
// "md5" + hex(md5(password + user)): the form stored for md5 users.
std::string md5_stored_hash(std::string_view user, std::string_view password);
// Whether a client's md5 answer is the one `stored_md5_hash` and `salt` call for. False
// whenever no answer can be computed (a malformed hash, MD5 unavailable): an empty answer
// never matches an empty expectation. The three above return "" in those cases.
bool md5_response_matches(std::string_view response, std::string_view stored_md5_hash,
                          std::array<uint8_t, 4> salt);

// Constant-time comparison.
bool secure_equal(std::string_view a, std::string_view b);

}  // namespace shardgate::protocol
