#include "protocol/salted_password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <mutex>
#include <string>
#include <vector>

namespace shardgate::protocol {

namespace {

// PostgreSQL runs passwords through SASLprep and falls back to the raw bytes when that fails.
// SASLprep leaves pure-ASCII strings unchanged; for non-ASCII passwords we use the raw bytes,
// which matches PostgreSQL whenever the password is already in NFKC form without mapped or
// prohibited characters.
std::string_view prep_password(std::string_view password) { return password; }

struct Entry {
  std::string password;
  std::string salt;
  int iterations = 0;
  SaltedKey key{};
  uint64_t used = 0;  // tick of the last lookup that found it
};

struct Cache {
  std::mutex mutex;
  std::vector<Entry> entries;
  uint64_t tick = 0;
};

Cache& cache() {
  static Cache c;
  return c;
}

void wipe(Entry& e) {
  OPENSSL_cleanse(e.password.data(), e.password.size());
  OPENSSL_cleanse(e.key.data(), e.key.size());
}

}  // namespace

SaltedKey salted_password(std::string_view password, std::string_view salt, int iterations) {
  SaltedKey out{};
  const std::string_view p = prep_password(password);
  if (p.size() > INT_MAX || salt.size() > INT_MAX) return out;
  PKCS5_PBKDF2_HMAC(p.data(), static_cast<int>(p.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations < 1 ? 1 : iterations, EVP_sha256(),
                    static_cast<int>(out.size()), out.data());
  return out;
}

SaltedKey salted_password_cached(std::string_view password, std::string_view salt, int iterations) {
  Cache& c = cache();
  auto find = [&]() -> Entry* {  // with c.mutex held
    for (Entry& e : c.entries)
      if (e.iterations == iterations && e.salt == salt && e.password == password) return &e;
    return nullptr;
  };
  {
    std::lock_guard lock(c.mutex);
    if (Entry* e = find()) {
      e->used = ++c.tick;
      return e->key;
    }
  }
  // Derived outside the lock: other workers' logins do not wait behind it. Two workers
  // missing at once both derive; the second insert finds the first and keeps one entry.
  SaltedKey key = salted_password(password, salt, iterations);
  std::lock_guard lock(c.mutex);
  if (find()) return key;
  if (c.entries.size() < kSaltedPasswordCacheSize) {
    c.entries.emplace_back();
  } else {
    Entry* oldest = &c.entries.front();
    for (Entry& e : c.entries)
      if (e.used < oldest->used) oldest = &e;
    wipe(*oldest);
    std::swap(*oldest, c.entries.back());
  }
  Entry& slot = c.entries.back();
  slot.password.assign(password);
  slot.salt.assign(salt);
  slot.iterations = iterations;
  slot.key = key;
  slot.used = ++c.tick;
  return key;
}

}  // namespace shardgate::protocol
