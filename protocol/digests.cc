#include "protocol/digests.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>

namespace shardgate::protocol {

namespace {

// The provider's implementation, fetched once; the built-in table entry if that fails (the
// slow path of old, still correct).
const EVP_MD* fetched_md(const char* name, const EVP_MD* builtin) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : builtin;
}

const EVP_MD* md5_md() {
  static const EVP_MD* md = fetched_md("MD5", EVP_md5());
  return md;
}

const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetched_md("SHA256", EVP_sha256());
  return md;
}

// One digest context per thread, reinitialised for each input.
struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  DigestContext() = default;
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

bool digest(const EVP_MD* md, const void* data, size_t n, unsigned char* out) {
  thread_local DigestContext c;
  unsigned int len = 0;
  if (c.ctx != nullptr && EVP_DigestInit_ex2(c.ctx, md, nullptr) == 1 &&
      EVP_DigestUpdate(c.ctx, data, n) == 1 && EVP_DigestFinal_ex(c.ctx, out, &len) == 1)
    return true;
  return EVP_Digest(data, n, out, &len, md, nullptr) == 1;
}

// One HMAC-SHA-256 context per thread: the digest is set once, each call only sets the key.
struct MacContext {
  EVP_MAC_CTX* ctx = nullptr;
  MacContext() {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return;
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    char name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  MacContext(const MacContext&) = delete;
  MacContext& operator=(const MacContext&) = delete;
  ~MacContext() { EVP_MAC_CTX_free(ctx); }
};

}  // namespace

std::optional<Md5Digest> md5(std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  if (!digest(md5_md(), data.data(), data.size(), buf)) return std::nullopt;
  Md5Digest out;
  std::copy_n(buf, out.size(), out.begin());
  return out;
}

Sha256Digest sha256(const uint8_t* data, size_t n) {
  Sha256Digest out{};
  digest(sha256_md(), data, n, out.data());
  return out;
}

Sha256Digest hmac_sha256(const uint8_t* key, size_t key_len, std::string_view msg) {
  Sha256Digest out{};
  if (key_len > INT_MAX) return out;
  // EVP_MAC_init with no key keeps the context's previous one: an empty key must be given
  // as an empty key, never as none.
  static constexpr uint8_t kNoKey = 0;
  if (key == nullptr) {
    key = &kNoKey;
    key_len = 0;
  }
  thread_local MacContext c;
  size_t len = 0;
  const auto* m = reinterpret_cast<const unsigned char*>(msg.data());
  if (c.ctx != nullptr && EVP_MAC_init(c.ctx, key, key_len, nullptr) == 1 &&
      EVP_MAC_update(c.ctx, m, msg.size()) == 1 &&
      EVP_MAC_final(c.ctx, out.data(), &len, out.size()) == 1 && len == out.size())
    return out;
  unsigned int hlen = 0;
  HMAC(sha256_md(), key, static_cast<int>(key_len), m, msg.size(), out.data(), &hlen);
  return out;
}

std::string lower_hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace shardgate::protocol
