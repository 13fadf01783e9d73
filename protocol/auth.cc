#include "protocol/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/digests.h"
#include "protocol/salted_password.h"

namespace shardgate::protocol {

namespace {

using Key = SaltedKey;

// Longest SCRAM message accepted from a peer; real ones are well under 200 bytes.
constexpr size_t kMaxScramMessage = 4096;
// Most PBKDF2 iterations a server may ask the client to run (PostgreSQL's default is 4096).
constexpr int64_t kMaxClientIterations = 10'000'000;

// ---- Base64 (standard alphabet, padded, strict) ----

bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::string b64_encode(const uint8_t* data, size_t n) {
  if (n == 0 || n > (1u << 20)) return {};
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(len > 0 ? static_cast<size_t>(len) : 0);
  return out;
}

std::string b64_encode(std::string_view s) {
  return b64_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Decodes canonical padded base64 only: OpenSSL's EVP_DecodeBlock alone would skip
// whitespace and count padding as zero bytes.
std::optional<std::string> b64_decode(std::string_view in) {
  if (in.empty()) return std::string();
  if (in.size() % 4 != 0 || in.size() > (1u << 20)) return std::nullopt;
  size_t pad = 0;
  if (in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < in.size() - pad; ++i) {
    if (!is_b64_char(in[i])) return std::nullopt;
  }
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

template <size_t N>
bool b64_decode_exact(std::string_view in, std::array<uint8_t, N>* out) {
  const auto raw = b64_decode(in);
  if (!raw || raw->size() != N) return false;
  std::memcpy(out->data(), raw->data(), N);
  return true;
}

// ---- Hashes ----

Key hmac(const Key& key, std::string_view msg) { return hmac_sha256(key.data(), key.size(), msg); }

bool key_equal(const Key& a, const Key& b) { return CRYPTO_memcmp(a.data(), b.data(), 32) == 0; }

// ---- SCRAM attribute parsing ----

std::vector<std::string_view> split_attrs(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// "x=value" with x a letter.
bool is_attr(std::string_view a) {
  return a.size() >= 2 && ((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z')) &&
         a[1] == '=';
}

// The value of attribute `name`, or nullopt when `a` is another attribute.
std::optional<std::string_view> attr(std::string_view a, char name) {
  if (!is_attr(a) || a[0] != name) return std::nullopt;
  return a.substr(2);
}

// printable = %x21-2B / %x2D-7E: visible ASCII except ','.
bool is_printable(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

std::optional<int64_t> parse_positive(std::string_view s, int64_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > max) return std::nullopt;
  return v;
}

std::optional<std::string> fail(std::string* error, std::string_view why) {
  if (error != nullptr) *error = why;
  return std::nullopt;
}

// ---- MD5 ----

// "md5" + hex(md5(data)), PostgreSQL's form of both the stored hash and the answer; empty
// when MD5 is unavailable.
std::string md5_prefixed(std::string_view data) {
  const std::optional<Md5Digest> digest = md5(data);
  return digest ? "md5" + lower_hex(*digest) : std::string();
}

}  // namespace

// ---- Verifiers ----

std::optional<ScramVerifier> parse_scram_verifier(std::string_view text) {
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (text.size() > kMaxScramMessage || text.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());
  const size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  const std::string_view iter_salt = text.substr(0, dollar);
  const std::string_view keys = text.substr(dollar + 1);
  const size_t c1 = iter_salt.find(':');
  const size_t c2 = keys.find(':');
  if (c1 == std::string_view::npos || c2 == std::string_view::npos) return std::nullopt;
  ScramVerifier v;
  const auto iterations = parse_positive(iter_salt.substr(0, c1), INT_MAX);
  if (!iterations) return std::nullopt;
  v.iterations = static_cast<int>(*iterations);
  auto salt = b64_decode(iter_salt.substr(c1 + 1));
  if (!salt || salt->empty()) return std::nullopt;
  v.salt = std::move(*salt);
  if (!b64_decode_exact(keys.substr(0, c2), &v.stored_key) ||
      !b64_decode_exact(keys.substr(c2 + 1), &v.server_key)) {
    return std::nullopt;
  }
  return v;
}

ScramVerifier make_scram_verifier(std::string_view password, std::string_view salt,
                                  int iterations) {
  ScramVerifier v;
  v.iterations = iterations < 1 ? 1 : iterations;
  v.salt = std::string(salt);
  const Key salted = salted_password(password, salt, v.iterations);
  const Key client_key = hmac(salted, "Client Key");
  v.stored_key = sha256(client_key.data(), client_key.size());
  v.server_key = hmac(salted, "Server Key");
  return v;
}

std::string format_scram_verifier(const ScramVerifier& v) {
  return std::string(kScramMechanism) + "$" + std::to_string(v.iterations) + ":" +
         b64_encode(v.salt) + "$" + b64_encode(v.stored_key.data(), v.stored_key.size()) + ":" +
         b64_encode(v.server_key.data(), v.server_key.size());
}

namespace {

void openssl_random_bytes(uint8_t* out, size_t n) {
  while (n > 0) {
    const int chunk = n > 4096 ? 4096 : static_cast<int>(n);
    int tries = 0;
    while (RAND_bytes(out, chunk) != 1) {
      // Without a working CSPRNG every nonce and salt would be guessable: stop the process.
      if (++tries == 3) std::abort();
    }
    out += chunk;
    n -= static_cast<size_t>(chunk);
  }
}

}  // namespace

// One RAND_bytes call costs microseconds in OpenSSL 3 (its fork check, DRBG lookup and
// locks), and a login takes a few bytes twice (salt, cancel key): small requests are served
// from a per-thread block of RAND_bytes output, each byte handed out once and wiped. The
// process never forks without exec (run_program), so no child inherits a block.
void random_bytes(uint8_t* out, size_t n) {
  constexpr size_t kBlock = 512;
  struct Block {
    uint8_t bytes[kBlock];
    size_t left = 0;
    ~Block() { OPENSSL_cleanse(bytes, kBlock); }
  };
  thread_local Block block;
  if (n > kBlock / 8) return openssl_random_bytes(out, n);
  if (block.left < n) {
    openssl_random_bytes(block.bytes, kBlock);
    block.left = kBlock;
  }
  uint8_t* from = block.bytes + (kBlock - block.left);
  std::memcpy(out, from, n);
  OPENSSL_cleanse(from, n);
  block.left -= n;
}

std::string scram_nonce() {
  uint8_t raw[18];
  random_bytes(raw, sizeof raw);
  return b64_encode(raw, sizeof raw);
}

// ---- Server side ----

ScramServer::ScramServer(ScramVerifier verifier, std::string server_nonce,
                         std::string channel_binding, bool plus)
    : verifier_(std::move(verifier)),
      server_nonce_(std::move(server_nonce)),
      channel_binding_(std::move(channel_binding)),
      plus_(plus && !channel_binding_.empty()) {}

std::optional<std::string> ScramServer::client_first(std::string_view message, std::string* error) {
  if (got_first_ || !server_first_.empty()) return fail(error, "unexpected SCRAM message");
  if (message.size() > kMaxScramMessage) return fail(error, "SCRAM message too long");
  if (message.empty()) return fail(error, "malformed SCRAM message (empty)");
  const char flag = message[0];
  std::string_view rest;
  if (flag == 'p') {
    if (!plus_) {
      return fail(error, channel_binding_.empty()
                             ? "client selected SCRAM-SHA-256-PLUS channel binding, which is "
                               "only offered over TLS"
                             : "client sent channel binding with SCRAM-SHA-256; select "
                               "SCRAM-SHA-256-PLUS");
    }
    const size_t comma = message.find(',');
    if (comma == std::string_view::npos || message.size() < 2 || message[1] != '=') {
      return fail(error, "malformed SCRAM message (bad channel binding flag)");
    }
    if (message.substr(2, comma - 2) != kChannelBindingType) {
      return fail(error, "unsupported SCRAM channel binding type (tls-server-end-point only)");
    }
    rest = message.substr(comma + 1);
  } else {
    if ((flag != 'n' && flag != 'y') || message.size() < 2 || message[1] != ',') {
      return fail(error, "malformed SCRAM message (bad channel binding flag)");
    }
    if (plus_) return fail(error, "client selected SCRAM-SHA-256-PLUS without channel binding");
    // "y": the client could bind but believes the server cannot; over TLS it can, so
    // someone removed SCRAM-SHA-256-PLUS from the offer (RFC 5802 section 6).
    if (flag == 'y' && !channel_binding_.empty()) {
      return fail(error, "SCRAM channel binding was offered but the client did not use it");
    }
    rest = message.substr(2);
  }
  if (rest.substr(0, 2) == "a=") {
    return fail(error, "client uses authorization identity, but it is not supported");
  }
  if (rest.empty() || rest[0] != ',') {
    return fail(error, "malformed SCRAM message (bad gs2 header)");
  }
  const std::string_view bare = rest.substr(1);
  const auto attrs = split_attrs(bare);
  if (attrs.size() < 2) return fail(error, "malformed SCRAM message (too few attributes)");
  if (attr(attrs[0], 'm')) return fail(error, "client requires an unsupported SCRAM extension");
  if (!attr(attrs[0], 'n')) return fail(error, "malformed SCRAM message (expected n=)");
  const auto nonce = attr(attrs[1], 'r');
  if (!nonce || !is_printable(*nonce)) {
    return fail(error, "malformed SCRAM message (bad client nonce)");
  }
  for (size_t i = 2; i < attrs.size(); ++i) {
    if (!is_attr(attrs[i])) return fail(error, "malformed SCRAM message (bad extension)");
  }
  if (!is_printable(server_nonce_)) return fail(error, "internal error: bad server nonce");
  got_first_ = true;
  gs2_header_ = std::string(message.substr(0, message.size() - bare.size()));
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(*nonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + b64_encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  return server_first_;
}

std::optional<std::string> ScramServer::client_final(std::string_view message, std::string* error) {
  if (!got_first_) return fail(error, "unexpected SCRAM message");
  got_first_ = false;  // exactly one attempt
  if (message.size() > kMaxScramMessage) return fail(error, "SCRAM message too long");
  const auto attrs = split_attrs(message);
  if (attrs.size() < 3) return fail(error, "malformed SCRAM message (too few attributes)");
  const auto cbind = attr(attrs[0], 'c');
  const auto nonce = attr(attrs[1], 'r');
  const auto proof_b64 = attr(attrs.back(), 'p');
  if (!cbind || !nonce || !proof_b64) {
    return fail(error, "malformed SCRAM message (expected c=, r= and p=)");
  }
  for (size_t i = 2; i + 1 < attrs.size(); ++i) {
    if (!is_attr(attrs[i])) return fail(error, "malformed SCRAM message (bad extension)");
  }
  const auto cbind_raw = b64_decode(*cbind);
  std::string expected = gs2_header_;
  if (plus_) expected += channel_binding_;
  if (!cbind_raw || *cbind_raw != expected) {
    return fail(error, "SCRAM channel binding check failed");
  }
  if (*nonce != nonce_) return fail(error, "SCRAM nonce mismatch");
  Key proof{};
  if (!b64_decode_exact(*proof_b64, &proof)) {
    return fail(error, "malformed SCRAM message (bad proof)");
  }
  const std::string_view without_proof =
      message.substr(0, message.size() - attrs.back().size() - 1);
  std::string auth_message = client_first_bare_;
  auth_message += ',';
  auth_message += server_first_;
  auth_message += ',';
  auth_message += without_proof;
  const Key client_signature = hmac(verifier_.stored_key, auth_message);
  Key client_key{};
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = proof[i] ^ client_signature[i];
  if (!key_equal(sha256(client_key.data(), client_key.size()), verifier_.stored_key)) {
    return fail(error, "password authentication failed");
  }
  const Key server_signature = hmac(verifier_.server_key, auth_message);
  return "v=" + b64_encode(server_signature.data(), server_signature.size());
}

// ---- Client side ----

ScramClient::ScramClient(std::string password, std::string client_nonce,
                         std::string channel_binding)
    : password_(std::move(password)),
      client_nonce_(std::move(client_nonce)),
      channel_binding_(std::move(channel_binding)) {}

std::string ScramClient::gs2_header() const {
  return channel_binding_.empty() ? std::string("n,,")
                                  : "p=" + std::string(kChannelBindingType) + ",,";
}

std::string ScramClient::client_first() const { return gs2_header() + "n=,r=" + client_nonce_; }

std::optional<std::string> ScramClient::server_first(std::string_view message, std::string* error) {
  if (have_signature_) return fail(error, "unexpected SCRAM server-first-message");
  if (message.size() > kMaxScramMessage) return fail(error, "SCRAM message too long");
  const auto attrs = split_attrs(message);
  if (!attrs.empty() && attr(attrs[0], 'm')) {
    return fail(error, "server requires an unsupported SCRAM extension");
  }
  if (attrs.size() != 3) return fail(error, "malformed SCRAM server-first-message");
  const auto nonce = attr(attrs[0], 'r');
  const auto salt_b64 = attr(attrs[1], 's');
  const auto iter_text = attr(attrs[2], 'i');
  if (!nonce || !salt_b64 || !iter_text) {
    return fail(error, "malformed SCRAM server-first-message (expected r=, s=, i=)");
  }
  if (!is_printable(*nonce) || nonce->size() <= client_nonce_.size() ||
      nonce->substr(0, client_nonce_.size()) != client_nonce_) {
    return fail(error, "invalid SCRAM response (nonce mismatch)");
  }
  const auto salt = b64_decode(*salt_b64);
  if (!salt || salt->empty()) return fail(error, "malformed SCRAM server-first-message (salt)");
  const auto iterations = parse_positive(*iter_text, kMaxClientIterations);
  if (!iterations) return fail(error, "malformed SCRAM server-first-message (iterations)");

  const std::string without_proof =
      "c=" + b64_encode(gs2_header() + channel_binding_) + ",r=" + std::string(*nonce);
  std::string auth_message = "n=,r=" + client_nonce_;
  auth_message += ',';
  auth_message += message;
  auth_message += ',';
  auth_message += without_proof;

  // The shard's salt and count are the same on every login of this user: derived once.
  const Key salted = salted_password_cached(password_, *salt, static_cast<int>(*iterations));
  const Key client_key = hmac(salted, "Client Key");
  const Key stored_key = sha256(client_key.data(), client_key.size());
  const Key client_signature = hmac(stored_key, auth_message);
  Key proof{};
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ client_signature[i];
  server_signature_ = hmac(hmac(salted, "Server Key"), auth_message);
  have_signature_ = true;
  return without_proof + ",p=" + b64_encode(proof.data(), proof.size());
}

bool ScramClient::server_final(std::string_view message, std::string* error) const {
  auto set = [error](std::string why) {
    if (error != nullptr) *error = std::move(why);
    return false;
  };
  if (!have_signature_) return set("unexpected SCRAM server-final-message");
  if (message.size() > kMaxScramMessage) return set("SCRAM message too long");
  if (const auto e = attr(message, 'e')) {
    return set("SCRAM authentication failed on the server: " + std::string(*e));
  }
  const auto v = attr(message, 'v');
  Key signature{};
  if (!v || !b64_decode_exact(*v, &signature)) {
    return set("malformed SCRAM server-final-message");
  }
  if (!key_equal(signature, server_signature_)) return set("incorrect server signature");
  return true;
}

// ---- MD5 ----

std::string md5_stored_hash(std::string_view user, std::string_view password) {
  std::string in(password);
  in += user;
  return md5_prefixed(in);
}

std::string md5_response_from_hash(std::string_view stored_md5_hash, std::array<uint8_t, 4> salt) {
  if (stored_md5_hash.size() != 35 || stored_md5_hash.substr(0, 3) != "md5") return {};
  std::string in(stored_md5_hash.substr(3));
  for (const char c : in) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  in.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  return md5_prefixed(in);
}

bool md5_response_matches(std::string_view response, std::string_view stored_md5_hash,
                          std::array<uint8_t, 4> salt) {
  const std::string expected = md5_response_from_hash(stored_md5_hash, salt);
  return !expected.empty() && secure_equal(response, expected);
}

std::string md5_password_response(std::string_view user, std::string_view password,
                                  std::array<uint8_t, 4> salt) {
  return md5_response_from_hash(md5_stored_hash(user, password), salt);
}

bool secure_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace shardgate::protocol
